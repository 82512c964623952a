/**
 * `npm run bench:inject` as it runs, shortened: the real webhook, the admission client (a Go
 * program: run where Go is installed, as CI installs it) in every shape, the report and its
 * JSON. Nothing here asserts a timing; it keeps the script from rotting.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = join(__dirname, '..', '..', 'bench', 'inject.mjs');

const goInstalled = (process.env.PATH ?? '').split(':').some((dir) => {
  try {
    accessSync(join(dir, 'go'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

(goInstalled ? it : it.skip)(
  'measures every shape of admission load without an error and reports RSS and CPU',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-bench-inject-'));
    try {
      const out = join(dir, 'inject.json');
      const { stdout } = await promisify(execFile)(process.execPath, [
        SCRIPT,
        '--duration=1',
        '--warmup=0',
        '--concurrency=4',
        '--rate=40',
        // A second webhook beside this build's, as a side-by-side run of another build has.
        `--variant=again ${join(__dirname, '..', '..', 'dist', 'cli.js')}`,
        `--out=${out}`,
      ]);
      expect(stdout).toMatch(/^(PASS|FAIL) {2}p99 < 5 ms, 4 connections, 40 reviews\/s/m);
      expect(stdout).toMatch(/^(PASS|FAIL) {2}p99 < 5 ms, bursts of 4 at once .* \[again\]$/m);
      const result = JSON.parse(readFileSync(out, 'utf8')) as {
        idleRssMiB: { afterStart: number; afterLoad: number };
        cpuMsPerReview: number;
        loads: Record<
          string,
          { reviews: number; errors: number; p99Ms: number; serverCpuMsPerReview: number }
        >;
        contenders: {
          name: string;
          cpuMsPerReview: number;
          cpuRatioToReference?: Record<string, number[] | number>;
          loads: Record<string, { errors: number; loadAverage: number }[]>;
        }[];
      };
      expect(Object.keys(result.loads)).toEqual(['rate', 'burst', 'closed']);
      for (const load of Object.values(result.loads)) {
        expect(load.errors).toBe(0);
        expect(load.reviews).toBeGreaterThan(0);
        expect(load.p99Ms).toBeGreaterThan(0);
        expect(load.serverCpuMsPerReview).toBeGreaterThan(0);
      }
      expect(result.idleRssMiB.afterStart).toBeGreaterThan(10);
      expect(result.cpuMsPerReview).toBeGreaterThan(0);
      // The bare node:https server runs last, as the floor the CPU ratios are taken to.
      expect(result.contenders.map((c) => c.name)).toEqual(['this build', 'again', 'bare https']);
      expect(stdout).toMatch(/^ {2}CPU per review ÷ the bare https server's, round by round: /m);
      for (const contender of result.contenders.slice(0, 2)) {
        const ratios = contender.cpuRatioToReference ?? {};
        expect(Object.keys(ratios)).toEqual(['rate', 'burst', 'closed', 'allShapes']);
        for (const ratio of Object.values(ratios).flat()) expect(ratio).toBeGreaterThan(0);
      }
      for (const contender of result.contenders) {
        expect(Object.keys(contender.loads)).toEqual(['rate', 'burst', 'closed']);
        for (const rounds of Object.values(contender.loads)) {
          expect(rounds).toHaveLength(1);
          expect(rounds[0]?.errors).toBe(0);
          expect(rounds[0]?.loadAverage).toBeGreaterThanOrEqual(0);
        }
        expect(contender.cpuMsPerReview).toBeGreaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  300_000, // the first Go build compiles its standard library
);
