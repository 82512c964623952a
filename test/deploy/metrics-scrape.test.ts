import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createSimulator, type Simulator } from '../../src/simulator';
import { CLI } from '../support/cli';
import { parseExposition, type Exposition } from '../support/prom-parse';
import { METRIC_NAMES } from './contract';
import { dashboardMetricNames, metricFamily, promqlSeriesNames } from './dashboard';
import { ROOT, at, records } from './render';

// The built CLI, started the way the image starts it (environment only), scraped on its
// ops port: every metric the dashboard and the alerts query must be one it exports.

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls until `check` holds; gives up early, with `why()`, once `gone()` says it never will. */
async function until(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; gone: () => boolean; why: () => string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await check().catch(() => false))) {
    if (options.gone() || Date.now() > deadline) throw new Error(options.why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => child.once('exit', (code) => resolve(code)));

describe('live /metrics of the proxy as the image runs it', () => {
  let sim: Simulator;
  let proxy: ChildProcess;
  let dir: string;
  let stderr = '';
  let metrics: Exposition;

  beforeAll(async () => {
    sim = createSimulator({});
    await sim.listen(0, '127.0.0.1');
    dir = mkdtempSync(join(tmpdir(), 'vap-scrape-'));
    writeFileSync(join(dir, 'password'), 'alice-password');
    const [dataPort, opsPort] = [await freePort(), await freePort()];
    proxy = spawn(process.execPath, [CLI, 'run'], {
      env: {
        PATH: process.env.PATH,
        VIDISPINE_URL: sim.url,
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD_FILE: join(dir, 'password'),
        PROXY_LISTEN: `127.0.0.1:${dataPort}`,
        OPS_LISTEN: `127.0.0.1:${opsPort}`,
        SHUTDOWN_DELAY_SECONDS: '0',
        SHUTDOWN_DRAIN_SECONDS: '1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proxy.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const ops = `http://127.0.0.1:${opsPort}`;
    await until(async () => (await fetch(`${ops}/startupz`)).status === 200, {
      timeoutMs: 15_000,
      gone: () => proxy.exitCode !== null,
      why: () => `the proxy did not start (exit ${String(proxy.exitCode)}): ${stderr}`,
    });
    // One proxied request, so the request families have samples too.
    await (await fetch(`http://127.0.0.1:${dataPort}/API/item`)).arrayBuffer();
    metrics = parseExposition(await (await fetch(`${ops}/metrics`)).text());
  }, 25_000);

  afterAll(async () => {
    if (proxy.exitCode === null) {
      const done = exited(proxy);
      proxy.kill('SIGTERM');
      const timer = setTimeout(() => proxy.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    }
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const typed = (): string[] => [...metrics.values()].filter((f) => f.type).map((f) => f.name);

  it('exports every metric family of the contract', () => {
    expect(typed()).toEqual(expect.arrayContaining([...METRIC_NAMES]));
    expect(stderr).toBe('');
  });

  it('exports every metric the Grafana dashboard queries', () => {
    expect(typed()).toEqual(expect.arrayContaining(dashboardMetricNames()));
  });

  it('exports every metric the alerts query', () => {
    const rule = parseYaml(
      readFileSync(join(ROOT, 'deploy', 'monitoring', 'prometheusrule.yaml'), 'utf8'),
    ) as unknown;
    const used = records(at(rule, 'spec', 'groups', 0, 'rules'))
      .flatMap((r) => promqlSeriesNames(String(r.expr)))
      .map(metricFamily);
    expect(used.length).toBeGreaterThan(0);
    expect(typed()).toEqual(expect.arrayContaining(used));
  });

  it('drains and exits 0 on SIGTERM, as the pod is stopped', async () => {
    const done = exited(proxy);
    proxy.kill('SIGTERM');
    expect(await done).toBe(0);
  });
});
