/**
 * `run` as a real child process: configured from the environment, serving through a real
 * simulator, and shutting down on SIGTERM under load without failing a single request.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import * as http from 'node:http';
import { createSimulator, type Simulator } from '../../src/simulator';
import { ChildProxy, type LogLine } from '../support/child-proxy';
import { CLI, runCli } from '../support/cli';
import { call } from '../support/http';
import { closedPort } from '../support/net';
import { HANG_GUARD_MS, until } from '../support/wait';

interface Bound {
  data: number;
  ops: number;
}

function ports(listening: LogLine): Bound {
  const listeners = listening.listeners as { port: number }[];
  const ops = listening.ops as { port: number };
  return { data: listeners[0].port, ops: ops.port };
}

function envFor(sim: Simulator, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    VIDISPINE_URL: sim.url,
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD: 'alice-password',
    PROXY_LISTEN: '127.0.0.1:0',
    OPS_LISTEN: '127.0.0.1:0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

describe('run', () => {
  let sim: Simulator;
  let proxy: ChildProxy | undefined;

  beforeEach(async () => {
    sim = createSimulator();
    await sim.listen();
  });
  afterEach(async () => {
    proxy?.kill();
    await proxy?.exited;
    proxy = undefined;
    await sim.close();
  });

  it('exits 2 naming the missing variable when the configuration is incomplete', async () => {
    const r = await runCli(['run'], { env: { PATH: process.env.PATH, VIDISPINE_USER: 'alice' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('VIDISPINE_URL');
  });

  it('exits 2 naming a secret file that cannot be read, before anything listens', async () => {
    const r = await runCli(['run'], {
      env: {
        ...envFor(sim, { VIDISPINE_PASSWORD: undefined }),
        PATH: process.env.PATH,
        VIDISPINE_PASSWORD_FILE: '/nonexistent/pw',
      },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n  VIDISPINE_PASSWORD_FILE: cannot read file /nonexistent/pw (ENOENT)\n',
    );
    expect(r.stdout).toBe('');
  });

  it('exits 2 naming an unknown flag', async () => {
    const r = await runCli(['run', '--confgi', 'x.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('confgi');
  });

  it('serves a client without credentials as the configured user', async () => {
    proxy = ChildProxy.start(['run'], envFor(sim));
    const { data, ops } = ports(await proxy.waitForEvent('listening'));
    const who = await call(data, { path: '/API/whoami' });
    expect(who.status).toBe(200);
    expect(who.text).toBe('alice');
    await proxy.waitForEvent('token_minted');
    expect((await call(ops, { path: '/readyz' })).status).toBe(200);
    expect(sim.calls({ endpoint: 'token', user: 'alice' })).toBe(1);
  });

  it('starts with a line that says what it will do, with the credential kind and no secret', async () => {
    proxy = ChildProxy.start(['run'], envFor(sim));
    const starting = await proxy.waitForEvent('starting');
    const line = proxy.stdout.find((text) => text.includes('"event":"starting"'));
    expect(line).not.toContain('alice-password');
    expect(line).not.toContain('[REDACTED]');
    expect(starting.config).toMatchObject({
      vidispine: sim.url,
      users: [
        {
          name: 'alice',
          mintedBy: 'own',
          credentialKind: 'password',
          endpoint: 'token',
          listen: '127.0.0.1:0',
          lifetimeSeconds: 60,
          autoRefresh: false,
        },
      ],
    });
  });

  it('drains on SIGTERM: readiness fails at once, no client request fails, exit 0', async () => {
    proxy = ChildProxy.start(
      ['run'],
      envFor(sim, { SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_DRAIN_SECONDS: '10' }),
    );
    const { data, ops } = ports(await proxy.waitForEvent('listening'));
    await proxy.waitForEvent('token_minted');

    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sending = true;
    let warmedUp: () => void = () => undefined;
    const warm = new Promise<void>((resolve) => (warmedUp = resolve));
    const count = (p: Promise<{ status: number }>): Promise<void> =>
      p.then(
        (r) => {
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if ((statuses.get(200) ?? 0) >= 50) warmedUp();
        },
        (err: Error) => void failures.push(err.message),
      );
    // Steady small requests, as a client that stops once the pod leaves the endpoints.
    const loops = Array.from({ length: 8 }, async () => {
      while (sending) await count(call(data, { path: '/API/whoami', agent }));
    });
    // Long requests that are in flight when the listeners close must still finish.
    const slow = Array.from({ length: 4 }, () =>
      count(call(data, { path: '/API/slow?ms=2500', agent: false })),
    );
    await warm;

    proxy.child.kill('SIGTERM');
    await proxy.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
    expect((await call(ops, { path: '/readyz' })).status).toBe(503);
    // Still serving during the delay, while readiness already fails.
    expect((await call(data, { path: '/API/whoami' })).status).toBe(200);
    sending = false;
    await Promise.all(loops);
    agent.destroy();
    await Promise.all(slow);

    const exit = await proxy.exited;
    expect(failures).toEqual([]);
    expect([...statuses.keys()]).toEqual([200]);
    expect(exit.code).toBe(0);
    // Drained, not cut at the drain deadline ('drain_timeout').
    const steps = proxy.lines.filter((l) => l.event === 'shutdown').map((l) => l.step);
    expect(steps).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
  });

  it("keeps a query's encoded JSON secrets and a URL's password out of the access log", async () => {
    proxy = ChildProxy.start(['run'], envFor(sim, { ACCESS_LOG: 'true' }));
    const { data } = ports(await proxy.waitForEvent('listening'));
    const json = encodeURIComponent(JSON.stringify({ password: 'S3CRET-json', user: 'ops' }));
    const paths = [
      `/API/item?q=${json}&n=1`,
      '/API/import?uri=s3://K:S3CRET/url&s?s@bucket/a.mp4&n=2',
    ];
    for (const path of paths) await call(data, { path });
    const logged = await Promise.all(
      ['n=1', 'n=2'].map((n) =>
        proxy?.waitFor((l) => l.event === 'request' && String(l.path).endsWith(n)),
      ),
    );
    expect(logged.map((l) => l?.path)).toEqual([
      '/API/item?q=%7B%22password%22%3A%22[REDACTED]%22%2C%22user%22%3A%22ops%22%7D&n=1',
      '/API/import?uri=s3://K:[REDACTED]@bucket/a.mp4&n=2',
    ]);
    expect(proxy.stdout.filter((text) => text.includes('S3CRET'))).toEqual([]);
  });

  it('goes on without its logs when nobody reads them (EPIPE), and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'run'], {
      env: { PATH: process.env.PATH, ...envFor(sim, { SHUTDOWN_DELAY_SECONDS: '0' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = once(child, 'exit');
    // Its first mint comes after the start line was refused.
    await until(() => sim.calls({ endpoint: 'token', user: 'alice' }) === 1, HANG_GUARD_MS);
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('keeps serving when its log cannot be written (a full disk), says so once on stderr, and exits 0 on SIGTERM', async () => {
    const full = openSync('/dev/full', 'w');
    const port = await closedPort();
    const child = spawn(process.execPath, [CLI, 'run'], {
      env: {
        PATH: process.env.PATH,
        ...envFor(sim, {
          PROXY_LISTEN: `127.0.0.1:${port}`,
          OPS_LISTEN: 'off',
          ACCESS_LOG: 'true',
          SHUTDOWN_DELAY_SECONDS: '0',
        }),
      },
      stdio: ['ignore', full, 'pipe'],
    });
    closeSync(full);
    let stderr = '';
    const { stderr: errors } = child;
    if (errors === null) throw new Error('stderr is piped');
    errors.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = once(child, 'exit');
    await Promise.race([
      until(() => sim.calls({ endpoint: 'token', user: 'alice' }) === 1, HANG_GUARD_MS),
      exited,
    ]);
    // Still running (and what it said if not).
    expect({ exitCode: child.exitCode, stderr }).toEqual({
      exitCode: null,
      stderr: expect.any(String),
    });
    // Every answer is a log line that cannot be written.
    for (let i = 0; i < 3; i++) {
      const who = await call(port, { path: '/API/whoami' });
      expect(who.text).toBe('alice');
    }
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(stderr).toBe(
      'vidispine-auth-proxy: cannot write the log to stdout (ENOSPC: no space left on device, write): its lines are dropped until it can; still serving\n',
    );
  });

  it('exits at once, non-zero, on a second signal', async () => {
    proxy = ChildProxy.start(['run'], envFor(sim, { SHUTDOWN_DELAY_SECONDS: '30' }));
    await proxy.waitForEvent('listening');
    proxy.child.kill('SIGTERM');
    await proxy.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
    proxy.child.kill('SIGTERM');
    expect((await proxy.exited).code).toBe(143);
  });
});
