import { ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// The benchmark's building blocks, run as the harness runs them: real child processes and
// real sockets. Nothing here asserts a timing.

const BENCH = join(__dirname, '..', '..', 'bench');
const run = promisify(execFile);

interface Answer {
  status: number;
  body: string;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function client(script: string, params: object): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [
    join(BENCH, 'clients', script),
    JSON.stringify(params),
  ]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8');
    const onData = (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      resolve(buf.slice(0, nl));
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
}

describe('bench upstream and clients', () => {
  let upstream: ChildProcessWithoutNullStreams;
  let base: string;
  let token: string;

  beforeAll(async () => {
    upstream = spawn(process.execPath, [join(BENCH, 'upstream.mjs')]);
    const { port } = JSON.parse(await firstLine(upstream)) as { port: number };
    base = `http://127.0.0.1:${port}`;
    const minted = await get(`${base}/API/token?seconds=600`, {
      authorization: basic('alice', 'alice-password'),
    });
    expect(minted.status).toBe(200);
    token = minted.body;
  });

  afterAll(async () => {
    upstream.kill('SIGKILL');
    await once(upstream, 'exit');
  });

  it('mints like Vidispine and counts every mint per user', async () => {
    await get(`${base}/__bench/reset`, {}, 'POST');
    const bad = await get(`${base}/API/token`, { authorization: basic('alice', 'wrong') });
    expect(bad.status).toBe(401);
    const own = await get(`${base}/API/token`, { authorization: basic('alice', 'alice-password') });
    const forAlice = await get(`${base}/API/user/alice/token`, {
      authorization: basic('admin', 'admin'),
    });
    const notAdmin = await get(`${base}/API/user/admin/token`, {
      authorization: basic('alice', 'alice-password'),
    });
    expect([own.status, forAlice.status, notAdmin.status]).toEqual([200, 200, 403]);
    const stats = JSON.parse((await get(`${base}/__bench/stats`)).body) as {
      mints: Record<string, number>;
    };
    expect(stats.mints).toEqual({ alice: 2 });
  });

  it('answers about 1 KiB of JSON only to a token it issued', async () => {
    const ok = await get(`${base}/API/item/VX-1001`, { authorization: `token ${token}` });
    expect(ok.status).toBe(200);
    expect(Buffer.byteLength(ok.body)).toBeGreaterThan(900);
    expect(Buffer.byteLength(ok.body)).toBeLessThan(1200);
    expect(JSON.parse(ok.body)).toHaveProperty('id', 'VX-1001');
    const forged = await get(`${base}/API/item/VX-1001`, { authorization: 'token VX-forged' });
    expect(forged.status).toBe(401);
    const none = await get(`${base}/API/item/VX-1001`);
    expect(none.status).toBe(401);
  });

  it('carries a download and an upload byte for byte', async () => {
    const bytes = 8 * 1024 * 1024 + 123;
    const headers = { authorization: `token ${token}` };
    const down = await client('transfer.mjs', {
      mode: 'download',
      url: `${base}/API/bench/download?bytes=${bytes}`,
      bytes,
      headers,
    });
    expect(down).toMatchObject({ bytes, status: 200 });
    const up = await client('transfer.mjs', {
      mode: 'upload',
      url: `${base}/API/bench/upload`,
      bytes,
      headers,
    });
    expect(up).toMatchObject({ bytes, status: 200 });
  });

  it('fails a transfer whose token is refused', async () => {
    await expect(
      client('transfer.mjs', {
        mode: 'download',
        url: `${base}/API/bench/download?bytes=1000`,
        bytes: 1000,
        headers: { authorization: 'token VX-forged' },
      }),
    ).rejects.toThrow(/HTTP 401/);
  });

  it('holds idle keep-alive connections open', async () => {
    const idle = spawn(process.execPath, [
      join(BENCH, 'clients', 'idle.mjs'),
      JSON.stringify({
        url: `${base}/API/item/VX-1001`,
        connections: 300,
        headers: { authorization: `token ${token}` },
      }),
    ]);
    expect(JSON.parse(await firstLine(idle))).toEqual({ open: 300, failed: 0 });
    idle.stdin.end();
    await once(idle, 'exit');
  });

  it('fires cold-start requests once told the target and reports every answer', async () => {
    const cold = spawn(process.execPath, [
      join(BENCH, 'clients', 'cold.mjs'),
      JSON.stringify({ path: '/__bench/stats', requests: 700 }),
    ]);
    expect(JSON.parse(await firstLine(cold))).toEqual({ ready: true });
    const result = firstLine(cold);
    cold.stdin.write(`go ${performance.timeOrigin + performance.now()} ${base}\n`);
    expect(JSON.parse(await result)).toMatchObject({ ok: 700, failed: 0, statuses: { 200: 700 } });
  });
});

/** Found where the harness looks: PATH and the sbin directories (nginx lives there). */
const installed = (name: string): boolean =>
  [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'].some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

type Figures = Record<string, number | null | Record<string, unknown>>;

/** The contenders that are Node.js servers with its default keep-alive timeout (5 s). */
const CLOSE_IDLE_AFTER_5_S = ['nodehttp', 'undici', 'express'];

type Results = Record<string, Record<string, Figures>>;

interface Report {
  contenders: { name: string; available: true | string }[];
  results: Results;
  rounds: Results[];
  targets: {
    target: string;
    measured: string;
    pass: boolean | null;
    met?: number;
    perRound?: (number | null)[];
  }[];
}

/** `bench/run.mjs` with `args`, its JSON written to a temporary directory and read back. */
async function runBench(
  args: string[],
): Promise<{ stdout: string; stderr: string; report: Report }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  try {
    const out = join(dir, 'result.json');
    const { stdout, stderr } = await run(
      process.execPath,
      [join(BENCH, 'run.mjs'), ...args, `--out=${out}`],
      { maxBuffer: 1 << 24 },
    );
    return { stdout, stderr, report: JSON.parse(readFileSync(out, 'utf8')) as Report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('npm run bench', () => {
  // Go and nginx take part where installed (CI installs both), so their programs and
  // configuration cannot rot unnoticed there.
  const contenders = ['direct', 'nodehttp', 'undici', 'express', 'proxy']
    .concat(installed('go') ? ['go'] : [])
    .concat(installed('nginx') ? ['nginx'] : []);
  let stdout: string;
  let report: Report;

  beforeAll(async () => {
    ({ stdout, report } = await runBench([
      '--only=small,download,upload,start,idle',
      `--contenders=${contenders.join(',')}`,
      '--connections=4',
      '--duration=1',
      '--warmup=0',
      '--size=8',
      '--starts=1',
      '--idle=50',
      // Idle connections are weighed 1 s and `--settle` s after they opened: at 1 the second
      // weighing is still made and reported, without a second's wait per contender.
      '--settle=1',
      '--load=autocannon',
    ]));
  }, 300_000); // the first Go build compiles its standard library

  it('prints the figures, the ratios to every contender and the targets', () => {
    expect(stdout).toMatch(/small GET, 4 conn\s+req\/s/);
    expect(stdout).toMatch(/CPU µs\/request/);
    expect(stdout).toMatch(/this proxy ÷ +figure +direct \(no proxy\)/);
    expect(stdout).toMatch(/Express \+ http-proxy-middleware/);
    expect(stdout).toMatch(/settled RSS MiB \(1 s\)/);
    for (const when of ['1 s after the first request', 'settled, 1 s at rest']) {
      expect(stdout).toMatch(
        new RegExp(`(PASS|FAIL) +idle RSS \\(one user, ops on\\) ≤ 50 MiB, ${when}`),
      );
    }
    // 50 connections, not the 1,000 the target is defined on: shown, not judged.
    for (const when of ['1 s after they opened', '1 s after they opened, at rest']) {
      expect(stdout).toMatch(
        new RegExp(
          `^ -- +1,000 idle keep-alive conns: RSS ≤ 80 MiB, ${when} +not judged: needs --idle=1000 \\(ran 50\\)$`,
          'm',
        ),
      );
    }
    expect(stdout).toMatch(/(PASS|FAIL) +start to ready ≤ 150 ms \+ mint round trip/);
    expect(stdout).not.toMatch(/rounds/);
  });

  it('keeps the side-by-side figures of its one round as measured', () => {
    expect(report.rounds).toHaveLength(1);
    expect(report.rounds[0]['small@4']).toEqual(report.results['small@4']);
    expect(report.rounds[0].start).toBeUndefined();
  });

  it('measures every contender that took part, CPU included', () => {
    const { results } = report;
    expect(report.contenders.map((c) => c.name).sort()).toEqual([...contenders].sort());
    expect(report.contenders.every((c) => c.available === true)).toBe(true);
    for (const name of contenders) {
      expect(results['small@4'][name]).toMatchObject({ errors: 0 });
      expect(results['small@4'][name].rps).toBeGreaterThan(0);
      for (const mode of ['download', 'upload']) {
        expect(results[mode][name].mibps).toBeGreaterThan(0);
      }
      if (name === 'direct') continue;
      // CPU is counted in clock ticks (10 ms): a 1 s run of a Node.js forwarder spends more
      expect(results['small@4'][name].cpuUs).toEqual(expect.any(Number));
      expect(results.download[name].cpuMsPerGiB).toEqual(expect.any(Number));
      expect(results.start[name].readyMs).toBeGreaterThan(0);
      expect(results.start[name].rss).toBeGreaterThan(0);
      expect(results.start[name].settledRss).toBeGreaterThan(0);
      expect(results.idle[name].settledRss).toBeGreaterThan(0);
      expect(results.start[name].cpuMs).toBeGreaterThan(0);
      expect(results.start[name].idleWakeups).toBeGreaterThanOrEqual(0);
      expect(results.idle[name]).toMatchObject({ opened: 50, failed: 0 });
      // Counted 1 s after the last connection opened, when the first has been idle longer:
      // as long again as opening them took, which a busy machine stretches. Node.js servers
      // close an idle connection after 5 s, so the 20-line forwarders may have closed some
      // by then; nginx and this proxy keep one 75 s, Go's server and the upstream for ever.
      const { stillOpen } = results.idle[name] as { stillOpen: number };
      if (CLOSE_IDLE_AFTER_5_S.includes(name)) expect(stillOpen).toBeLessThanOrEqual(50);
      else expect(stillOpen).toBe(50);
      expect(results.idle[name].settledOpen).toEqual(expect.any(Number));
    }
    for (const name of ['nodehttp', 'undici', 'express', 'proxy']) {
      expect(results['small@4'][name].cpuUs).toBeGreaterThan(0);
    }
  });

  it("says where this proxy's start-up time went, phases adding up to the traced start", () => {
    const breakdown = report.results.start.proxy.breakdown as {
      readyMs: number;
      phases: Record<string, number>;
      packages: Record<string, number>;
    };
    const sum = Object.values(breakdown.phases).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(breakdown.readyMs, 0);
    expect(breakdown.phases['module loading']).toBeGreaterThan(0);
    expect(breakdown.phases['mint: request to answer']).toBeGreaterThan(0);
    expect(Object.keys(breakdown.packages).length).toBeGreaterThan(0);
  });

  it('checks the targets against the measured figures', () => {
    const target = (t: string) => report.targets.find((x) => x.target.startsWith(t));
    expect(target('small GET @32')?.pass).toBeNull(); // not measured at 32 connections here
    expect(target('idle RSS')?.pass).toEqual(expect.any(Boolean));
    expect(target('download: CPU per GiB')?.pass).toEqual(expect.any(Boolean));
    expect(target('start to ready')?.measured).toMatch(/ms \(\d+ − mint \d/);
  });

  it('refuses an unknown scenario with a clear message', async () => {
    await expect(run(process.execPath, [join(BENCH, 'run.mjs'), '--only=smal'])).rejects.toThrow(
      /--only: unknown smal/,
    );
  });

  it('refuses a number of rounds that is not a whole number from 1', async () => {
    for (const rounds of ['0', '1.5', 'two']) {
      await expect(
        run(process.execPath, [join(BENCH, 'run.mjs'), `--rounds=${rounds}`]),
      ).rejects.toThrow(/--rounds must be a whole number ≥ 1/);
    }
  });
});

describe('npm run bench -- --rounds=2', () => {
  let stdout: string;
  let stderr: string;
  let report: Report;

  beforeAll(async () => {
    ({ stdout, stderr, report } = await runBench([
      '--rounds=2',
      '--only=small',
      '--contenders=direct,proxy',
      '--connections=1',
      '--duration=1',
      '--warmup=0',
      '--load=autocannon',
    ]));
  }, 120_000);

  it('visits every contender in each round, the other one first in the second', () => {
    const visits = stderr.match(/^small GET, 1 conn: .*$/gm);
    expect(visits).toEqual([
      'small GET, 1 conn: direct (no proxy), round 1 of 2',
      'small GET, 1 conn: this proxy, round 1 of 2',
      'small GET, 1 conn: this proxy, round 2 of 2',
      'small GET, 1 conn: direct (no proxy), round 2 of 2',
    ]);
  });

  it('keeps every round and reports the median of each figure', () => {
    expect(report.rounds).toHaveLength(2);
    for (const name of ['direct', 'proxy']) {
      const [first, second] = report.rounds.map((round) => round['small@1'][name]);
      expect(first.rps).toBeGreaterThan(0);
      expect(second.rps).toBeGreaterThan(0);
      expect(report.results['small@1'][name]).toMatchObject({
        rps: ((first.rps as number) + (second.rps as number)) / 2,
        errors: (first.errors as number) + (second.errors as number),
      });
    }
  });

  it('judges the target on the median of the per-round figures and says how often it was met', () => {
    const added = report.targets.find((t) => t.target === 'small GET @1: added p50 < 0.3 ms');
    expect(added?.perRound).toHaveLength(2);
    expect(added?.met).toEqual(added?.perRound?.filter((v) => v !== null && v < 0.3).length);
    expect(stdout).toMatch(/^Side by side in 2 rounds/m);
    expect(stdout).toMatch(
      /^(PASS|FAIL) +small GET @1: added p50 < 0\.3 ms +-?\d+\.\d{3} ms( \(.+\))?, met in [0-2] of 2 rounds$/m,
    );
  });
});
