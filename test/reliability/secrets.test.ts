/**
 * A run through every path that writes something (start, traffic, replays after 401, failed
 * mints of each kind, upstream errors, 503s, refused input) with distinctive secret values,
 * then a search for each of them in every log line, metric, status document, page, probe,
 * error body and response header.
 */
import { logStartup } from '../../src/ops/startup-log';
import type { SimUser } from '../../src/simulator';
import { BACKOFF_NO_TOKEN_CAP_MS } from '../../src/tokens/backoff';
import { call, type Reply, headerText } from '../support/http';
import { startApp } from '../support/app';
import { HANG_GUARD_MS, until } from '../support/wait';
import { rawExchange } from '../support/net';

const ALICE_PASSWORD = 'Alice-S3cret-Pw-7431';
const ALICE_ROTATED = 'Alice-R0tated-Pw-5517';
const ADMIN_PASSWORD = 'Adm1n-S3cret-Pw-9922';
const CLIENT_PASSWORD = 'Cl1ent-S3cret-Pw-3108';
const STORAGE_SECRET = 'St0rage-S3cret-Key-4410';

const USERS: SimUser[] = [
  { name: 'admin', password: ADMIN_PASSWORD, roles: ['_administrator'] },
  { name: 'alice', password: ALICE_PASSWORD },
  { name: 'bob', password: 'Bob-Unused-Pw-0000' },
];

const basic = (user: string, password: string): string =>
  Buffer.from(`${user}:${password}`).toString('base64');

it('no secret appears in logs, metrics, /status, pages, probes, error bodies or headers', async () => {
  const r = await startApp({
    simulator: { users: USERS },
    vidispine: {
      admin: { username: 'admin', password: ADMIN_PASSWORD },
      upstreamTimeoutSeconds: 0.5,
      mintTimeoutSeconds: 0.5,
    },
    raw: {
      users: [
        { name: 'alice', password: ALICE_PASSWORD, listen: '127.0.0.1:0' },
        { name: 'bob', listen: '127.0.0.1:0', selectUserHeader: 'X-User' },
      ],
      proxy: { accessLog: true },
      log: { level: 'trace' },
    },
  });
  const tokens = new Set<string>();
  const captureTokens = (): void => {
    for (const user of ['alice', 'bob']) {
      const lease = r.app.store.current(user);
      if (lease) tokens.add(lease.value);
    }
  };
  r.app.store.on('minted', () => setImmediate(captureTokens));
  const replies: Reply[] = [];
  const client = async (user: string, path: string, extra: Record<string, string> = {}) => {
    const reply = await call(r.port(user), {
      path,
      headers: { authorization: `Basic ${basic('legacy', CLIENT_PASSWORD)}`, ...extra },
    });
    replies.push(reply);
    captureTokens();
    return reply;
  };
  try {
    logStartup(r.logger, r.app.config, 'test');
    captureTokens();
    // Traffic with tokens in the query and matrix parameters too, as some clients send.
    expect((await client('alice', '/API/whoami')).text).toBe('alice');
    expect((await client('bob', '/API/whoami')).text).toBe('bob');
    await client('alice', `/API/whoami?token=${CLIENT_PASSWORD}`);
    // A storage URL with its key in a percent-encoded query value, as an import sends it.
    await client(
      'alice',
      `/API/import?uri=${encodeURIComponent(`s3://AKIA:${STORAGE_SECRET}@bucket/a.mp4`)}`,
    );
    await client('bob', '/API/whoami', { 'X-User': 'nobody' });
    // Vidispine forgets the tokens: 401, replay with fresh ones.
    r.sim.revokeAllTokens();
    expect((await client('alice', '/API/whoami')).status).toBe(200);
    expect((await client('bob', '/API/whoami')).status).toBe(200);
    // Upstream timeout.
    expect((await client('alice', '/API/slow?ms=3000')).status).toBe(504);
    // Every kind of failed mint, each forced by losing the token.
    for (const fault of [
      () => r.sim.failTokenEndpoints({ kind: 'status', status: 500 }),
      () => r.sim.failTokenEndpoints({ kind: 'empty' }),
      () => r.sim.failTokenEndpoints({ kind: 'drop' }),
      () => r.sim.failTokenEndpoints({ kind: 'delay', ms: 5000 }),
      () => r.sim.setUserPassword('alice', ALICE_ROTATED),
      () => r.sim.setUserPassword('admin', ALICE_ROTATED),
    ]) {
      fault();
      r.sim.revokeAllTokens();
      const failedBefore = r.logs.length;
      const statuses = [
        (await client('alice', '/API/whoami')).status,
        (await client('bob', '/API/whoami')).status,
      ];
      expect(statuses).toContain(503);
      await until(() => r.logs.length > failedBefore, HANG_GUARD_MS, 'a log line');
      replies.push(await r.ops('/status'), await r.ops('/readyz'), await r.ops('/'));
      r.sim.healTokenEndpoints();
      r.sim.setUserPassword('alice', ALICE_PASSWORD);
      r.sim.setUserPassword('admin', ADMIN_PASSWORD);
      // With no token held, the next attempt comes within the backoff cap, however the
      // failures added up on a busy machine.
      await until(() => r.app.health.ready().ok, BACKOFF_NO_TOKEN_CAP_MS + 10_000, 'recovery');
      captureTokens();
    }
    replies.push(await rawReply(r.port(), 'GET /API/whoami HTTP/1.1\nHost: x\n\n'));
    for (const path of ['/metrics', '/status', '/', '/readyz', '/startupz', '/livez', '/nope']) {
      replies.push(await r.ops(path));
    }
  } finally {
    await r.close();
  }

  expect(tokens.size).toBeGreaterThanOrEqual(4);
  const secrets = [
    ALICE_PASSWORD,
    ALICE_ROTATED,
    ADMIN_PASSWORD,
    CLIENT_PASSWORD,
    STORAGE_SECRET,
    basic('alice', ALICE_PASSWORD),
    basic('admin', ADMIN_PASSWORD),
    basic('legacy', CLIENT_PASSWORD),
    ...tokens,
  ];
  const places: [string, string][] = [
    ...r.logs.map((line, i): [string, string] => [`log line ${i}`, line]),
    ...replies.map((reply, i): [string, string] => [
      `reply ${i}`,
      `${headerText(reply)}\n${reply.text}`,
    ]),
  ];
  expect(r.logs.length).toBeGreaterThan(20);
  const leaks = places.flatMap(([where, text]) =>
    secrets.filter((s) => text.includes(s)).map((s) => `${where} contains ${s.slice(0, 6)}…`),
  );
  expect(leaks).toEqual([]);
}, 300_000);

async function rawReply(port: number, bytes: string): Promise<Reply> {
  const answer = await rawExchange(port, bytes);
  return { status: answer.status, headers: {}, body: Buffer.from(answer.text), text: answer.text };
}
