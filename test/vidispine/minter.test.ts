import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Credential, SecretSource, UserConfig, VidispineConfig } from '../../src/config/types';
import { createSimulator, DEFAULT_USERS, type Simulator } from '../../src/simulator';
import { MintError, type MintFailureReason } from '../../src/tokens/types';
import { createServerFacts, type ServerFacts } from '../../src/vidispine/endpoints';
import { createTokenMinter } from '../../src/vidispine/minter';
import { createTransport, type VidispineTransport } from '../../src/vidispine/transport';
import { whoami } from '../../src/vidispine/whoami';
import { accessKey, password, userConfig } from '../support/config-fixtures';
import { closedPort, silentPort } from '../support/net';
import { until } from '../support/wait';

const dir = mkdtempSync(join(tmpdir(), 'vap-minter-'));
const secretFile = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

let sim: Simulator;
let transport: VidispineTransport;
/** Every token minted here: no failure message may carry one, nor a secret. */
const tokens: string[] = [];
const ADMIN_PASSWORD = 'adm1n-pass';
const SECRETS = [
  ADMIN_PASSWORD,
  'alice-password',
  'bob-password',
  'bob-access-key',
  'wrong-password',
  'rotated-password',
];

beforeAll(async () => {
  sim = createSimulator({
    // A distinctive admin password, so the leak check can look for it.
    users: [
      ...DEFAULT_USERS.map((u) => (u.name === 'admin' ? { ...u, password: ADMIN_PASSWORD } : u)),
      { name: 'o brien/ø', password: 'ob-password' },
    ],
    maxSeconds: 60,
  });
  await sim.listen(0, '127.0.0.1');
  transport = createTransport({ url: new URL(sim.url) });
});
afterAll(async () => {
  transport.close();
  await sim.close();
});
beforeEach(() => {
  sim.resetCalls();
  sim.healTokenEndpoints();
});

function vidispine(
  account?: Credential,
  mintTimeoutSeconds = 5,
  as: 'admin' | 'runAs' = 'admin',
): Pick<VidispineConfig, 'admin' | 'runAs' | 'mintTimeoutSeconds'> {
  return { [as]: account, mintTimeoutSeconds };
}
const ADMIN = password('admin', ADMIN_PASSWORD);

function user(name: string, secret?: SecretSource, seconds = 60, autoRefresh = false): UserConfig {
  return userConfig(name, {
    credential: secret === undefined ? undefined : password(name, secret),
    token: { seconds, autoRefresh },
  });
}

/** Alice's minter, with her password, sharing `server` with the other minters of a test. */
function aliceSharing(server: ServerFacts) {
  return createTokenMinter({
    vidispine: vidispine(),
    user: user('alice', { kind: 'literal', value: 'alice-password' }),
    transport,
    server,
  });
}

async function mintFails(
  minter: ReturnType<typeof createTokenMinter>,
  reason: MintFailureReason,
): Promise<MintError> {
  const err = await minter.mint().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MintError)) throw new Error(`expected a MintError, got ${String(err)}`);
  expect(err.reason).toBe(reason);
  expect([...SECRETS, ...tokens].filter((secret) => err.message.includes(secret))).toEqual([]);
  return err;
}

describe('own credentials: GET /API/token', () => {
  it('mints a working token for the user and measures sentAt before sending', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', { kind: 'literal', value: 'alice-password' }),
      transport,
    });
    expect(minter.endpoint).toBe('token');
    const before = Date.now();
    const token = await minter.mint();
    tokens.push(token.value);
    expect(token.sentAt).toBeGreaterThanOrEqual(before);
    expect(token.sentAt).toBeLessThanOrEqual(Date.now());
    expect(token.seconds).toBe(60);
    expect(await whoami(transport, token.value, AbortSignal.timeout(5000))).toBe('alice');
    expect(sim.calls({ endpoint: 'token', user: 'alice' })).toBe(1);
    expect(sim.tokenInfo(token.value)).toMatchObject({
      user: 'alice',
      seconds: 60,
      autoRefresh: false,
    });
  });

  it('asks for the configured lifetime and autoRefresh', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', { kind: 'literal', value: 'alice-password' }, 30, true),
      transport,
    });
    const token = await minter.mint();
    tokens.push(token.value);
    expect(sim.tokenInfo(token.value)).toMatchObject({ seconds: 30, autoRefresh: true });
  });

  it("is refused when an access key's secret is sent under the user's name", async () => {
    // Vidispine takes an access key as Basic keyId:secret, not username:secret.
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('bob', { kind: 'env', name: 'BOB_KEY' }),
      transport,
      env: { BOB_KEY: 'bob-access-key' },
    });
    await mintFails(minter, 'unauthorized');
  });

  it('re-reads a rotated secret file before every mint', async () => {
    const path = secretFile('alice-rotating', 'alice-password\n');
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', { kind: 'file', path }),
      transport,
    });
    tokens.push((await minter.mint()).value);
    sim.setUserPassword('alice', 'rotated-password');
    const err = await mintFails(minter, 'unauthorized');
    expect(err.status).toBe(401);
    expect(err.message).toContain(`file ${path}`);
    writeFileSync(path, 'rotated-password\n');
    tokens.push((await minter.mint()).value);
    sim.setUserPassword('alice', 'alice-password');
  });

  it('explains a bad password without revealing it', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', {
        kind: 'literal',
        value: 'wrong-password',
        setting: 'VIDISPINE_PASSWORD',
      }),
      transport,
    });
    const err = await mintFails(minter, 'unauthorized');
    expect(err.message).toBe(
      'Vidispine rejected the password of user "alice" (in VIDISPINE_PASSWORD): check it (HTTP 401 to GET /API/token)',
    );
  });

  it('names userTokenMaxInterval when seconds is above the cap', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', { kind: 'literal', value: 'alice-password' }, 3600),
      transport,
    });
    const err = await mintFails(minter, 'bad_request');
    expect(err.message).toContain('userTokenMaxInterval');
    expect(err.message).toContain('3600');
  });

  it('fails with secret_unreadable when the secret file disappears', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', { kind: 'file', path: join(dir, 'missing') }),
      transport,
    });
    const err = await mintFails(minter, 'secret_unreadable');
    expect(err.message).toContain('ENOENT');
    expect(sim.calls({ endpoint: 'token' })).toBe(0);
  });
});

describe('admin credential: GET /API/user/{name}/token', () => {
  it('mints for a user without a password', async () => {
    const minter = createTokenMinter({ vidispine: vidispine(ADMIN), user: user('bob'), transport });
    expect(minter.endpoint).toBe('user_token');
    const token = await minter.mint();
    tokens.push(token.value);
    expect(await whoami(transport, token.value, AbortSignal.timeout(5000))).toBe('bob');
    expect(sim.calls({ endpoint: 'user_token', user: 'bob' })).toBe(1);
    expect(sim.calls({ endpoint: 'token' })).toBe(0);
  });

  it('lets an administrator exceed the cap', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(ADMIN),
      user: user('alice', undefined, 3600, true),
      transport,
    });
    const token = await minter.mint();
    tokens.push(token.value);
    expect(sim.tokenInfo(token.value)).toMatchObject({
      user: 'alice',
      seconds: 3600,
      autoRefresh: true,
    });
  });

  it('URL-encodes the user name', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(ADMIN),
      user: user('o brien/ø'),
      transport,
    });
    const token = await minter.mint();
    tokens.push(token.value);
    expect(sim.tokenInfo(token.value)?.user).toBe('o brien/ø');
  });

  it('never lets a name move the request: ".." is a user, not the parent path', async () => {
    const err = await mintFails(
      createTokenMinter({ vidispine: vidispine(ADMIN), user: user('..'), transport }),
      'not_found',
    );
    expect(err.message).toContain('GET /API/user/%2E%2E/token');
    // Not the admin's own token through GET /API/token.
    expect(sim.calls({ endpoint: 'token' })).toBe(0);
  });

  it('classifies a non-administrator admin credential as forbidden', async () => {
    const notAdmin = password('alice', 'alice-password');
    const err = await mintFails(
      createTokenMinter({ vidispine: vidispine(notAdmin), user: user('bob'), transport }),
      'forbidden',
    );
    expect(err.message).toContain('_administrator');
  });

  it('classifies a disabled user (409)', async () => {
    sim.setUserDisabled('bob', true);
    try {
      const err = await mintFails(
        createTokenMinter({ vidispine: vidispine(ADMIN), user: user('bob'), transport }),
        'user_disabled',
      );
      expect(err.status).toBe(409);
    } finally {
      sim.setUserDisabled('bob', false);
    }
  });

  it('names the admin account too on a 409, which a disabled admin account gets as well', async () => {
    sim.setUserDisabled('admin', true);
    try {
      const err = await mintFails(
        createTokenMinter({ vidispine: vidispine(ADMIN), user: user('bob'), transport }),
        'user_disabled',
      );
      expect(err.message).toContain('the admin account "admin"');
      expect(err.message).not.toContain('remove it from the configuration');
    } finally {
      sim.setUserDisabled('admin', false);
    }
  });

  it('classifies an unknown user', async () => {
    const err = await mintFails(
      createTokenMinter({ vidispine: vidispine(ADMIN), user: user('nobody'), transport }),
      'not_found',
    );
    expect(err.message).toContain('user "nobody" does not exist in Vidispine');
  });

  it('names the admin credential when it is rejected', async () => {
    const badAdmin = password('admin', { kind: 'env', name: 'ADMIN_PW' });
    const err = await mintFails(
      createTokenMinter({
        vidispine: vidispine(badAdmin),
        user: user('bob'),
        transport,
        env: { ADMIN_PW: 'wrong-password' },
      }),
      'unauthorized',
    );
    expect(err.message).toContain('the password of the admin account "admin"');
    expect(err.message).toContain('environment variable ADMIN_PW');
  });

  it('names the _administrator role on a 401 too, the other status Vidispine may refuse it with', async () => {
    // A non-administrator asking for another user's token may get 401 as well as 403.
    sim.failTokenEndpoints({ kind: 'status', status: 401 }, { times: 1 });
    const err = await mintFails(
      createTokenMinter({ vidispine: vidispine(ADMIN), user: user('bob'), transport }),
      'unauthorized',
    );
    expect(err.message).toContain('the password of the admin account "admin"');
    expect(err.message).toContain('_administrator');
  });
});

describe('access keys: Basic with the key ID', () => {
  const bobKey = (secret: SecretSource = { kind: 'literal', value: 'bob-access-key' }) =>
    userConfig('bob', { credential: accessKey('bob', 'VSIDB0BACCESSKEY0001', secret) });

  it('mints for the user the key belongs to', async () => {
    const minter = createTokenMinter({ vidispine: vidispine(), user: bobKey(), transport });
    const token = await minter.mint();
    tokens.push(token.value);
    expect(sim.tokenInfo(token.value)?.user).toBe('bob');
  });

  it('names the key, never its secret, when the key is inactive', async () => {
    sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'INACTIVE');
    try {
      const minter = createTokenMinter({ vidispine: vidispine(), user: bobKey(), transport });
      const err = await mintFails(minter, 'unauthorized');
      expect(err.message).toContain('access key VSIDB0BACCESSKEY0001 of user "bob"');
      expect(err.message).toContain('ACTIVE');
    } finally {
      sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'ACTIVE');
    }
  });

  it("sends the secret file's bytes as they are", async () => {
    const seen: string[] = [];
    const recorder = await recordingServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('tok-1');
    });
    const bytes = Buffer.from([0x73, 0xff, 0x00, 0xe9, 0x0a]);
    const path = join(dir, 'binary-secret');
    writeFileSync(path, bytes);
    try {
      const minter = createTokenMinter({
        vidispine: vidispine(),
        user: bobKey({ kind: 'file', path }),
        transport: recorder.transport,
      });
      await minter.mint();
      const pair = Buffer.from(seen[0].replace(/^Basic /, ''), 'base64');
      expect(pair).toEqual(
        Buffer.concat([Buffer.from('VSIDB0BACCESSKEY0001:'), bytes.subarray(0, 4)]),
      );
    } finally {
      await recorder.close();
    }
  });
});

describe('RunAs: a _runas account mints for the user', () => {
  const RUNAS = password('runas', 'runas-password');

  it('asks GET /API/token with RunAs: {user} and gets the user its token', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(RUNAS, 5, 'runAs'),
      user: user('alice'),
      transport,
    });
    expect(minter.endpoint).toBe('token_runas');
    const token = await minter.mint();
    tokens.push(token.value);
    expect(await whoami(transport, token.value, AbortSignal.timeout(5000))).toBe('alice');
    expect(sim.calls({ endpoint: 'token', user: 'alice' })).toBe(1);
  });

  it('cannot act as an administrator: forbidden, saying why', async () => {
    const err = await mintFails(
      createTokenMinter({
        vidispine: vidispine(RUNAS, 5, 'runAs'),
        user: user('admin'),
        transport,
      }),
      'forbidden',
    );
    expect(err.message).toMatch(/RunAs account "runas" may not run as "admin".*_runas/);
  });
});

describe('servers without GET /API/token (VidiCore 4.11)', () => {
  let old: Simulator;
  let oldTransport: VidispineTransport;
  beforeAll(async () => {
    old = createSimulator({ tokenEndpoint: false });
    await old.listen(0, '127.0.0.1');
    oldTransport = createTransport({ url: new URL(old.url) });
  });
  afterAll(async () => {
    oldTransport.close();
    await old.close();
  });

  it('moves to GET /API/user/{self}/token on the first 404, for every minter of the process', async () => {
    const server = createServerFacts();
    const own = (name: string) =>
      createTokenMinter({
        vidispine: vidispine(),
        user: user(name, { kind: 'literal', value: `${name}-password` }),
        transport: oldTransport,
        server,
      });
    const alice = own('alice');
    expect(alice.endpoint).toBe('token');
    const token = await alice.mint();
    expect(alice.endpoint).toBe('user_token');
    expect(old.tokenInfo(token.value)?.user).toBe('alice');
    const bob = own('bob');
    expect(bob.endpoint).toBe('user_token');
    await bob.mint();
    await alice.mint();
    expect(old.calls({ endpoint: 'token' })).toBe(0);
    expect(old.calls({ endpoint: 'user_token' })).toBe(3);
  });

  it('mints with RunAs on the per-user endpoint there', async () => {
    const minter = createTokenMinter({
      vidispine: vidispine(password('runas', 'runas-password'), 5, 'runAs'),
      user: user('alice'),
      transport: oldTransport,
    });
    const token = await minter.mint();
    expect(minter.endpoint).toBe('user_token_runas');
    expect(old.tokenInfo(token.value)?.user).toBe('alice');
  });

  it("names in a failure the endpoint that answered, though another user's 404 moved the process on meanwhile", async () => {
    const server = createServerFacts();
    let arrived: () => void = () => undefined;
    const asked = new Promise<void>((resolve) => (arrived = resolve));
    let answer: () => void = () => undefined;
    const recorder = await recordingServer((_req, res) => {
      answer = () => res.writeHead(403).end();
      arrived();
    });
    try {
      const minter = createTokenMinter({
        vidispine: vidispine(password('runas', 'runas-password'), 5, 'runAs'),
        user: user('admin'),
        transport: recorder.transport,
        server,
      });
      const failure = mintFails(minter, 'forbidden');
      await asked;
      server.tokenEndpoint = 'absent';
      answer();
      expect((await failure).endpoint).toBe('token_runas');
      expect(minter.endpoint).toBe('user_token_runas');
    } finally {
      await recorder.close();
    }
  });

  it('keeps GET /API/token where it answered once: a later 404 is not a missing endpoint', async () => {
    const server = createServerFacts();
    const alice = () => aliceSharing(server);
    tokens.push((await alice().mint()).value);
    sim.failTokenEndpoints({ kind: 'status', status: 404 }, { times: 1 });
    await mintFails(alice(), 'not_found');
    expect(alice().endpoint).toBe('token');
  });
});

describe('a server that answers 404 to everything while it starts', () => {
  it('stays on GET /API/token when the per-user endpoint answers 404 too', async () => {
    const server = createServerFacts();
    const alice = () => aliceSharing(server);
    sim.failTokenEndpoints({ kind: 'status', status: 404 }, { times: 2 });
    expect((await mintFails(alice(), 'not_found')).endpoint).toBe('user_token');
    expect(alice().endpoint).toBe('token');
    tokens.push((await alice().mint()).value);
    expect(sim.calls({ endpoint: 'token' })).toBe(2);
    expect(sim.calls({ endpoint: 'user_token' })).toBe(1);
  });

  it.each([
    ['a rate limiter’s 429', 429, 'rate_limited', {}],
    ['a redirect to a login page', 302, 'bad_request', { location: '/login?next=%2FAPI' }],
    ['a proxy’s own 407', 407, 'bad_request', {}],
  ] as const)(
    'stays on GET /API/token when a front end answers the per-user endpoint with %s',
    async (_name, status, reason, headers) => {
      const paths: string[] = [];
      const recorder = await recordingServer((req, res) => {
        const path = (req.url ?? '').split('?')[0];
        paths.push(path);
        // Starting: one 404 on GET /API/token; the front end's own answer on the other path.
        if (path !== '/API/token') res.writeHead(status, headers).end();
        else if (paths.length === 1) res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'text/plain' }).end('fresh-token');
      });
      try {
        const minter = createTokenMinter({
          vidispine: vidispine(),
          user: user('alice', { kind: 'literal', value: 'alice-password' }),
          transport: recorder.transport,
        });
        expect((await mintFails(minter, reason)).endpoint).toBe('user_token');
        expect(minter.endpoint).toBe('token');
        expect((await minter.mint()).value).toBe('fresh-token');
        expect(paths).toEqual(['/API/token', '/API/user/alice/token', '/API/token']);
      } finally {
        await recorder.close();
      }
    },
  );

  it('moves once the per-user endpoint answers, though with a refusal', async () => {
    const old = createSimulator({ tokenEndpoint: false });
    await old.listen(0, '127.0.0.1');
    const oldTransport = createTransport({ url: new URL(old.url) });
    try {
      const server = createServerFacts();
      // Vidispine knows him as bob: the per-user endpoint refuses him another user's token.
      const minter = createTokenMinter({
        vidispine: vidispine(),
        user: userConfig('Bob', {
          credential: accessKey('Bob', 'VSIDB0BACCESSKEY0001', {
            kind: 'literal',
            value: 'bob-access-key',
          }),
        }),
        transport: oldTransport,
        server,
      });
      await mintFails(minter, 'forbidden');
      expect(minter.endpoint).toBe('user_token');
    } finally {
      oldTransport.close();
      await old.close();
    }
  });
});

describe('server and network failures', () => {
  const alice = () =>
    createTokenMinter({
      vidispine: vidispine(undefined, 0.3),
      user: user('alice', { kind: 'literal', value: 'alice-password' }),
      transport,
    });

  it('classifies 5xx as server_error', async () => {
    sim.failTokenEndpoints({ kind: 'status', status: 503 }, { times: 1 });
    expect((await mintFails(alice(), 'server_error')).status).toBe(503);
  });

  it('takes a front end without a backend for a passing server_error', async () => {
    sim.setBackendAvailable(false);
    try {
      const err = await mintFails(alice(), 'server_error');
      expect(err.message).toMatch(/unavailable.*usually temporary/);
    } finally {
      sim.setBackendAvailable(true);
    }
  });

  it('classifies an empty 200 as empty_token', async () => {
    sim.failTokenEndpoints({ kind: 'empty' }, { times: 1 });
    await mintFails(alice(), 'empty_token');
  });

  it('classifies a dropped connection as network', async () => {
    // Twice: a mint dropped on a kept connection is sent once more, on a new one.
    sim.failTokenEndpoints({ kind: 'drop' }, { times: 2 });
    await mintFails(alice(), 'network');
  });

  it('gives up after the mint timeout', async () => {
    // Vidispine would answer after a minute: a timeout at all shows the minter stopped waiting.
    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 }, { times: 1 });
    const err = await mintFails(alice(), 'timeout');
    expect(err.message).toContain('0.3 s');
  });

  it('names a connection that never opened within the mint timeout, not a slow Vidispine', async () => {
    // What a NetworkPolicy or a firewall that drops the connection looks like from the pod.
    const silent = await silentPort();
    const dropped = createTransport({ url: new URL(`http://127.0.0.1:${silent.port}`) });
    try {
      const minter = createTokenMinter({
        vidispine: vidispine(undefined, 0.3),
        user: user('alice', { kind: 'literal', value: 'x' }),
        transport: dropped,
      });
      const err = await mintFails(minter, 'timeout');
      expect(err.message).toBe(
        `the connection to Vidispine at http://127.0.0.1:${silent.port} did not open within 0.3 s (vidispine.mintTimeoutSeconds): nothing answered it, as when a firewall or a Kubernetes NetworkPolicy drops it (the Helm chart's networkPolicy.vidispine must admit where Vidispine runs); check vidispine.url and that the network lets the proxy reach it`,
      );
    } finally {
      dropped.close();
      silent.close();
    }
  });

  it('classifies a refused connection as network', async () => {
    const port = await closedPort();
    const closed = createTransport({ url: new URL(`http://127.0.0.1:${port}`) });
    const minter = createTokenMinter({
      vidispine: vidispine(),
      user: user('alice', { kind: 'literal', value: 'x' }),
      transport: closed,
    });
    const err = await mintFails(minter, 'network');
    expect(err.message).toContain('ECONNREFUSED');
    closed.close();
  });

  it('says an answer cut off mid-body was cut off, not that none came', async () => {
    const err = await failureAgainst((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 });
      res.write('tok-', () => res.destroy());
    }, 'network');
    expect(err.message).toMatch(
      /answered HTTP 200 but closed the connection before the answer ended/,
    );
    expect(err.message).not.toMatch(/without an answer|https:\/\//);
  });

  it('says an answer whose body trickles past the mint timeout came too slowly, not that none came', async () => {
    const err = await failureAgainst(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 });
        res.write('tok-');
      },
      'timeout',
      0.3,
    );
    expect(err.message).toMatch(
      /^Vidispine at http:\/\/127\.0\.0\.1:\d+ answered HTTP 200 but the rest of the answer did not arrive within 0\.3 s \(vidispine\.mintTimeoutSeconds\): is it overloaded, or is a gateway in front of it holding the answer back\?$/,
    );
  });

  it('blanks the credential it sent out of a Reason: that repeats it', async () => {
    const err = await failureAgainst((req, res) => {
      const sent = req.headers.authorization ?? '';
      const basic = sent.replace(/^Basic /, '');
      res.writeHead(401, { reason: `refused ${sent} (${basic}); password alice-password` }).end();
    }, 'unauthorized');
    const basic = Buffer.from('alice:alice-password').toString('base64');
    expect(err.message).not.toContain(basic);
    expect(err.message).toContain(
      'Vidispine says: "refused [REDACTED] ([REDACTED]); password [REDACTED]"',
    );
  });

  it('blanks the credential it sent out of where a redirect points, percent-encoded or not', async () => {
    // A login front end that puts what it was sent into the path it redirects to.
    const err = await failureAgainst((req, res) => {
      const sent = req.headers.authorization ?? '';
      const echoed = `/login/${encodeURIComponent(sent)}/alice-password/API/token`;
      res.writeHead(302, { location: echoed }).end();
    }, 'bad_request');
    const basic = Buffer.from('alice:alice-password').toString('base64');
    expect(err.message).not.toContain(basic.replace(/=+$/, ''));
    expect(err.message).not.toContain('alice-password');
    expect(err.message).toMatch(
      /redirected the token request for "alice" to http:\/\/127\.0\.0\.1:\d+\/login\/\[REDACTED\]\/\[REDACTED\]\/API\/token: /,
    );
  });

  it('names where a redirect points, and follows none', async () => {
    let requests = 0;
    const err = await failureAgainst((_req, res) => {
      requests += 1;
      res.writeHead(301, { location: 'https://vidispine.example.com/API/token?seconds=60' }).end();
    }, 'bad_request');
    expect(err.message).toMatch(
      /redirected the token request for "alice" to https:\/\/vidispine\.example\.com\/API\/token: .* to https:\/\/vidispine\.example\.com if that is VidiCore/,
    );
    expect(requests).toBe(1);
  });

  it("quotes a front end's media type and where it redirects as one line of at most 200 characters", async () => {
    // A login page's front end: a media type of 8,000 characters, a terminal's CSI and a NEL
    // (a line break to some log viewers) in it; a redirect to a path as long.
    const page = await failureAgainst((_req, res) => {
      res
        .writeHead(200, { 'content-type': `text/html\u009b2J\u0085${'x'.repeat(8_000)}` })
        .end(`<html>\n<body>${'log in '.repeat(1_000)}</body></html>`);
    }, 'empty_token');
    expect(page.message).toContain(`with text/html?2j?${'x'.repeat(187)}… instead of a token`);
    const login = await failureAgainst((_req, res) => {
      res.writeHead(302, { location: `/login/${'y'.repeat(8_000)}?ticket=1` }).end();
    }, 'bad_request');
    const shown = `http://127.0.0.1:${/:(\d+)\//.exec(login.message)?.[1]}/login/yyy`;
    expect(login.message).toContain(`to ${shown}`);
    for (const { message } of [page, login]) {
      expect(message).toMatch(/^[\x20-\x7e…]{1,700}$/);
    }
  });

  it('rejects with the caller’s reason when the caller aborts', async () => {
    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 }, { times: 1 });
    const ac = new AbortController();
    const minting = alice().mint(ac.signal);
    await until(() => sim.calls({ endpoint: 'token' }) === 1, 5000, 'the token request');
    ac.abort(new Error('shutting down'));
    await expect(minting).rejects.toThrow('shutting down');
  });
});

describe('whoami', () => {
  it('throws with the status for a bad token, without the token', async () => {
    const err = await whoami(transport, 'not-a-token', AbortSignal.timeout(5000)).catch(
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('GET /API/whoami answered 401');
  });
});

/** The failure of alice's mint (with her password) against a stand-in answering as `handler` says. */
async function failureAgainst(
  handler: RequestListener,
  reason: MintFailureReason,
  mintTimeoutSeconds?: number,
) {
  const recorder = await recordingServer(handler);
  try {
    const minter = createTokenMinter({
      vidispine: vidispine(undefined, mintTimeoutSeconds),
      user: user('alice', { kind: 'literal', value: 'alice-password' }),
      transport: recorder.transport,
    });
    return await mintFails(minter, reason);
  } finally {
    await recorder.close();
  }
}

/** A stand-in Vidispine that answers as told, reachable through a transport. */
async function recordingServer(handler: RequestListener) {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const recorder = createTransport({ url: new URL(`http://127.0.0.1:${port}`) });
  return {
    transport: recorder,
    close: () =>
      new Promise<void>((resolve) => {
        recorder.close();
        server.close(() => resolve());
      }),
  };
}
