/**
 * What an operator reads, word for word, from the built CLI in a child process: every message
 * names keys the way the configuration was written — variables for an environment-only
 * configuration, YAML paths for a file, options for the demo.
 */
import { createServer, type Server } from 'node:net';
import { createSimulator, type Simulator } from '../../src/simulator';
import { runCli } from '../support/cli';
import { tempFolder } from '../support/files';

const { file } = tempFolder('messages');

let sim: Simulator;
let busy: Server;
let busyAddress: string;

beforeAll(async () => {
  sim = createSimulator({});
  await sim.listen(0, '127.0.0.1');
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address() as { port: number };
  busyAddress = `127.0.0.1:${port}`;
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => busy.close(resolve));
});

const envOnly = (vars: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  ...vars,
});

const yaml = (body: string): string[] => ['--config', file(body)];

describe('configuration errors (exit 2)', () => {
  it.each([
    [
      'env',
      [] as string[],
      {
        VIDISPINE_URL: 'http://vidispine:8080',
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD: 'x',
        PROXY_LISTEN: '127.0.0.1:8080',
        OPS_LISTEN: '127.0.0.1:8080',
      },
      'OPS_LISTEN: address already used by PROXY_LISTEN',
    ],
    [
      'yaml',
      yaml(`
vidispine: { url: http://vidispine:8080 }
users: [{ name: alice, password: x, listen: 127.0.0.1:8080 }]
ops: { listen: 127.0.0.1:8080 }
`),
      {},
      'ops.listen: address already used by users[0].listen',
    ],
    [
      'env',
      [],
      { VIDISPINE_URL: 'vidispine:8080', VIDISPINE_USER: 'alice', VIDISPINE_PASSWORD: 'x' },
      'VIDISPINE_URL: "vidispine:8080" is not an http:// or https:// URL (e.g. http://vidispine:8080)',
    ],
    [
      'yaml',
      yaml('vidispine: { url: vidispine:8080 }\nusers: [{ name: alice, password: x }]\n'),
      {},
      'vidispine.url: "vidispine:8080" is not an http:// or https:// URL (e.g. http://vidispine:8080)',
    ],
    [
      'env',
      [],
      { VIDISPINE_URL: 'http://vidispine:8080', VIDISPINE_USER: 'alice' },
      'VIDISPINE_USER: user "alice" has no password or access key: set VIDISPINE_PASSWORD, VIDISPINE_PASSWORD_FILE or VIDISPINE_ACCESS_KEY_ID, or VIDISPINE_ADMIN_USER or VIDISPINE_RUNAS_USER (an account that mints its tokens)',
    ],
    [
      'yaml',
      yaml(
        'vidispine: { url: http://vidispine:8080 }\nusers: [{ name: alice, listen: 127.0.0.1:0 }]\n',
      ),
      {},
      'users[0]: user "alice" has no password or access key: set users[0].password, users[0].passwordFile, users[0].passwordEnv or users[0].accessKey.id, or vidispine.admin or vidispine.runAs (an account that mints its tokens)',
    ],
    [
      'env',
      [],
      {
        VIDISPINE_URL: 'http://vidispine:8080',
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD: 'x',
        VIDISPINE_PASSWORD_FILE: '/etc/hostname',
      },
      'VIDISPINE_PASSWORD_FILE: give only one source for the secret, not VIDISPINE_PASSWORD and VIDISPINE_PASSWORD_FILE',
    ],
    [
      'env',
      [],
      {
        VIDISPINE_URL: 'http://vidispine:8080',
        VIDISPINE_USER: 'bob',
        VIDISPINE_ADMIN_USER: 'admin',
      },
      'VIDISPINE_ADMIN_USER: the account "admin" has no password or access key: set VIDISPINE_ADMIN_PASSWORD, VIDISPINE_ADMIN_PASSWORD_FILE or VIDISPINE_ADMIN_ACCESS_KEY_ID',
    ],
    [
      'env',
      [],
      { VIDISPINE_URL: 'http://vidispine:8080', VIDISPINE_USER: 'alice', VIDISPINE_PASWORD: 'x' },
      'VIDISPINE_PASWORD: unknown variable; did you mean VIDISPINE_PASSWORD?',
    ],
    [
      'yaml',
      yaml(
        'vidispine: { url: http://vidispine:8080 }\nusers: [{ name: alice, pasword: x, listen: 127.0.0.1:0 }]\n',
      ),
      {},
      'users[0].pasword: unknown key; did you mean password?',
    ],
    [
      'env',
      [],
      { CONFIG_FILE: '/nonexistent/config.yaml' },
      'CONFIG_FILE: cannot read /nonexistent/config.yaml (ENOENT)',
    ],
    [
      'yaml',
      ['--config', '/nonexistent/config.yaml'],
      { CONFIG_FILE: '/etc/hostname' },
      '--config: cannot read /nonexistent/config.yaml (ENOENT)',
    ],
  ])('%s: %#', async (_source, args, vars, message) => {
    const result = await runCli(['check', ...args], { env: envOnly(vars) });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toContain(`  ${message}`);
  });
});

/** The problem lines of a start that exited 2: the indented `key: problem` lines of stderr. */
const problemLines = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim());

describe('one start names every problem, and none that is a consequence of another', () => {
  const alice = { VIDISPINE_USER: 'alice', VIDISPINE_PASSWORD: 'x' };
  it.each([
    [
      'an unknown key beside two users on one address',
      yaml(`
vidispine: { url: http://vidispine:8080, bogus: 1 }
users:
  - { name: alice, password: x, listen: 127.0.0.1:8080 }
  - { name: bob, password: y, listen: 127.0.0.1:8080 }
`),
      {},
      [
        'vidispine.bogus: unknown key; the keys here are url, caFile, admin, runAs, mintTimeoutSeconds, connectTimeoutSeconds, upstreamTimeoutSeconds, readTimeoutSeconds and maxSockets',
        'users[1].listen: address already used by users[0].listen',
      ],
    ],
    [
      // Without its username the admin block is unsound: users without a credential of their
      // own are not said to lack one, since the admin may be what mints for them.
      'an admin without its username beside a clash',
      yaml(`
vidispine: { url: http://vidispine:8080, admin: { password: x } }
users:
  - { name: alice, listen: 127.0.0.1:8080 }
  - { name: bob, listen: 127.0.0.1:8080 }
`),
      {},
      [
        'vidispine.admin.username: required',
        'users[1].listen: address already used by users[0].listen',
      ],
    ],
    [
      // Each user's own mistake, and nothing that follows from it: not "no password" for a
      // mistyped password key, not "no listen address" for a bad one, not a clash with it.
      'mistakes inside users',
      yaml(`
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, pasword: x, listen: 127.0.0.1 }
  - { name: bob, password: y, lisen: 127.0.0.1:8080 }
  - { name: bob, password: z, listen: 127.0.0.1:0 }
ops: { listen: "127.0.0.1:0" }
`),
      {},
      [
        'users[0].pasword: unknown key; did you mean password?',
        'users[0].listen: "127.0.0.1" is not host:port (e.g. 127.0.0.1:8080)',
        'users[1].lisen: unknown key; did you mean listen?',
        'users[2].name: "bob" already used by users[1]',
      ],
    ],
    [
      'a missing URL beside a clash, in the environment',
      [],
      { ...alice, PROXY_LISTEN: '127.0.0.1:8080', OPS_LISTEN: '127.0.0.1:8080' },
      ['VIDISPINE_URL: required', 'OPS_LISTEN: address already used by PROXY_LISTEN'],
    ],
    [
      'a bad token lifetime: its margin is not judged against the default',
      yaml(`
vidispine: { url: http://vidispine:8080 }
users: [{ name: alice, password: x, listen: 127.0.0.1:0 }]
token: { seconds: sixty, safetyMarginSeconds: 40 }
ops: { listen: "127.0.0.1:8080", bogus: 1 }
proxy: { replayBufferBytes: 2000, replayBufferTotalBytes: 1000 }
`),
      {},
      [
        'token.seconds: must be a positive integer',
        'ops.bogus: unknown key; the keys here are listen',
        'proxy.replayBufferTotalBytes: 1000 is below proxy.replayBufferBytes (2000), so no body above 1000 bytes could be held for replay: give at least 2000, or lower proxy.replayBufferBytes too (0 in either holds none)',
      ],
    ],
  ])('%s', async (_case, args, vars, lines) => {
    const result = await runCli(['check', ...args], { env: envOnly(vars) });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    // The schema's problems come first, in zod's order; those across keys after them.
    expect(problemLines(result.stderr).sort()).toEqual([...lines].sort());
  });
});

describe('a listener on the address of a default names the key the user set', () => {
  const alice = {
    VIDISPINE_URL: 'http://vidispine:8080',
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD: 'x',
  };
  it.each([
    [
      [] as string[],
      { ...alice, PROXY_LISTEN: 'localhost:9090' },
      "PROXY_LISTEN: localhost:9090 overlaps the ops listener's default address, 0.0.0.0:9090 (OPS_LISTEN): choose another port, or set OPS_LISTEN",
    ],
    [
      [],
      { ...alice, OPS_LISTEN: '[::]:8080' },
      "OPS_LISTEN: [::]:8080 overlaps the data listener's default address, 127.0.0.1:8080 (PROXY_LISTEN): choose another port, or set PROXY_LISTEN",
    ],
    [
      yaml(`
vidispine: { url: http://vidispine:8080 }
users: [{ name: alice, password: x, listen: "127.0.0.1:9090" }]
`),
      {},
      "users[0].listen: 127.0.0.1:9090 overlaps the ops listener's default address, 0.0.0.0:9090 (ops.listen): choose another port, or set ops.listen",
    ],
  ])('%#', async (args, vars, line) => {
    const result = await runCli(['check', ...args], { env: envOnly(vars) });
    expect(result.code).toBe(2);
    expect(problemLines(result.stderr)).toEqual([line]);
  });
});

describe('a mistyped Vidispine URL is never echoed with its credentials', () => {
  const alice = { VIDISPINE_USER: 'alice', VIDISPINE_PASSWORD: 'x' };
  // Everything up to the last '@' may be a password: with or without a scheme or '//', with
  // '@' or '/' inside it. The suggestion drops it too, and stays useful.
  it.each([
    [
      'user:S3CRET@host:80',
      '"[REDACTED]@host:80" is not an http:// or https:// URL (e.g. http://host:80)',
    ],
    ['//u:S3CRET@host:80', '"//[REDACTED]@host:80" is not a URL (e.g. http://host:80)'],
    ['http//u:S3CRET@host', '"http//[REDACTED]@host" is not a URL (e.g. http://host)'],
    [
      'ftp://u:p@SECRETTAIL@host',
      '"ftp://[REDACTED]@host" is not an http:// or https:// URL (e.g. http://host)',
    ],
    ['ftp://u:pa/SECRET@host', '"ftp://[REDACTED]@host" is not a URL (e.g. http://host)'],
    // A password of digits and a `/` reads to every URL parser as a port and a path: an `@`
    // in that path is taken for the end of a password, none of which is shown.
    [
      'http://u:12/S3CRET@host',
      'must not contain credentials; give the password in VIDISPINE_PASSWORD or VIDISPINE_PASSWORD_FILE',
    ],
    [
      'http://u:12/S3CRET@host/API',
      'must not contain credentials; give the password in VIDISPINE_PASSWORD or VIDISPINE_PASSWORD_FILE',
    ],
    [
      'http://u:S3CRET@host:80800',
      '"http://[REDACTED]@host:80800" is not a URL (e.g. http://vidispine:8080)',
    ],
    // Without credentials the value is shown as typed and the suggestion is the likely fix.
    ['http//vidispine:8080', '"http//vidispine:8080" is not a URL (e.g. http://vidispine:8080)'],
    [
      'vidispine:8080/API',
      '"vidispine:8080/API" is not an http:// or https:// URL (e.g. http://vidispine:8080)',
    ],
  ])('VIDISPINE_URL=%s', async (url, message) => {
    const result = await runCli(['check'], { env: envOnly({ ...alice, VIDISPINE_URL: url }) });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toContain(`  VIDISPINE_URL: ${message}`);
    expect(result.stderr).not.toMatch(/S3CRET|SECRET|:p@|u:pa/);
  });

  // A Secret's password mapped to VIDISPINE_URL, or `url:` and `password:` swapped: a value
  // with no scheme and not the shape of a host either may be the password, and is not shown.
  it.each([
    ['Tr0ub4dor&3!S3CRET', 'not a URL'],
    ['kq+S3CRET/9xZ2vA==', 'not a URL'],
    ['S3CRET:w!ld', 'not an http:// or https:// URL'],
    ['my S3CRET phrase', 'not a URL'],
  ])('VIDISPINE_URL=%s is refused without being quoted', async (url, what) => {
    const result = await runCli(['check'], { env: envOnly({ ...alice, VIDISPINE_URL: url }) });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toContain(
      `  VIDISPINE_URL: the value is ${what} (e.g. http://vidispine:8080); it does not look like one either (is it the secret itself? it is not shown)`,
    );
    expect(result.stderr).not.toContain('S3CRET');
  });

  // A single word has the shape of a host name, and of most generated passwords too (hex,
  // letters and digits, `openssl rand -hex 16`): it is not shown either, nor built into the
  // example.
  it.each(['S3CRET4f9a0b7c', 'hunter2-S3CRET', 'vidispine-S3CRET', 'x@S3CRETword'])(
    'VIDISPINE_URL=%s, a single word, is refused without being quoted',
    async (url) => {
      const result = await runCli(['check'], { env: envOnly({ ...alice, VIDISPINE_URL: url }) });
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')).toContain(
        '  VIDISPINE_URL: the value is not a URL (e.g. http://vidispine:8080); a single word is not shown, since a password in its place would look the same',
      );
      expect(result.stderr).not.toContain('S3CRET');
    },
  );

  it('vidispine.url in a file', async () => {
    const config = yaml(
      'vidispine: { url: "//admin:S3CRET@vidispine:8080" }\nusers: [{ name: alice, password: x }]\n',
    );
    const result = await runCli(['check', ...config], { env: envOnly({}) });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toContain(
      '  vidispine.url: "//[REDACTED]@vidispine:8080" is not a URL (e.g. http://vidispine:8080)',
    );
    expect(result.stderr).not.toContain('S3CRET');
  });
});

describe('a listen address that may be a password is never echoed', () => {
  // A Secret's password mapped to a listen variable: a single word has the shape of a host
  // name and of most generated passwords, and is not shown, as for VIDISPINE_URL; OPS_LISTEN
  // shows no value at all.
  it.each([
    [
      'PROXY_LISTEN',
      'the value is not host:port (e.g. 127.0.0.1:8080); a single word is not shown, since a password in its place would look the same',
    ],
    ['OPS_LISTEN', 'must be host:port, or "off" to disable'],
  ])('%s=S3CRETab12', async (name, message) => {
    const vars = { VIDISPINE_URL: 'http://vidispine:8080', VIDISPINE_USER: 'alice' };
    const env = envOnly({ ...vars, VIDISPINE_PASSWORD: 'x', [name]: 'S3CRETab12' });
    const result = await runCli(['check'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toContain(`  ${name}: ${message}`);
    expect(result.stderr).not.toContain('S3CRET');
  });

  // Nor is a password of other characters than a host's and a port's (`!`, `&`, base64's
  // `=`), nor the userinfo of a URL in its place; a value of those characters, more than a
  // word, is quoted, as a mistyped address is worth seeing.
  it.each([
    [
      'S3CRET!ab&12',
      'the value is not host:port (e.g. 127.0.0.1:8080); it does not look like one either (is it the secret itself? it is not shown)',
    ],
    [
      'UzNDUkVUYWIxMg==',
      'the value is not host:port (e.g. 127.0.0.1:8080); it does not look like one either (is it the secret itself? it is not shown)',
    ],
    [
      'http://admin:S3CRET@0.0.0.0:8080',
      '"http://[REDACTED]@0.0.0.0:8080" is not host:port (put an IPv6 address in brackets, e.g. [::1]:8080)',
    ],
    ['0.0.0.0:http', '"0.0.0.0:http" is not host:port (e.g. 127.0.0.1:8080)'],
  ])('PROXY_LISTEN=%s', async (value, message) => {
    const vars = { VIDISPINE_URL: 'http://vidispine:8080', VIDISPINE_USER: 'alice' };
    const env = envOnly({ ...vars, VIDISPINE_PASSWORD: 'x', PROXY_LISTEN: value });
    const result = await runCli(['check'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toContain(`  PROXY_LISTEN: ${message}`);
    expect(result.stderr).not.toMatch(/S3CRET|UzNDUkVU/);
  });
});

describe('check', () => {
  const alice = (password: string) => ({
    VIDISPINE_URL: sim.url,
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD: password,
  });
  const resultColumn = (stdout: string): string =>
    stdout.split('\n')[1].replace(/^alice\s+password\s+GET \S+\s+60 s\s+/, '');

  it('says "1 user OK"', async () => {
    const result = await runCli(['check'], { env: envOnly(alice('alice-password')) });
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n').pop()).toBe(`1 user OK against ${sim.url}`);
  });

  it('names the variable of a rejected password, and says nothing about re-reading it', async () => {
    const result = await runCli(['check'], { env: envOnly(alice('not-the-password')) });
    expect(result.code).toBe(1);
    expect(resultColumn(result.stdout)).toBe(
      'error: unauthorized: Vidispine rejected the password of user "alice" (in VIDISPINE_PASSWORD): check it (HTTP 401 to GET /API/token)',
    );
    expect(result.stdout.trimEnd().split('\n').pop()).toBe(`1 of 1 user failed against ${sim.url}`);
    expect(result.stdout).not.toContain('not-the-password');
  });

  it('names the file and its YAML key of a rejected password', async () => {
    const secret = file('not-the-password\n');
    const result = await runCli(
      [
        'check',
        ...yaml(
          `vidispine: { url: ${sim.url} }\nusers: [{ name: alice, passwordFile: ${secret}, listen: 127.0.0.1:0 }]\n`,
        ),
      ],
      { env: envOnly({}) },
    );
    expect(result.code).toBe(1);
    expect(resultColumn(result.stdout)).toBe(
      `error: unauthorized: Vidispine rejected the password of user "alice" (in file ${secret} (users[0].passwordFile)): check it (HTTP 401 to GET /API/token)`,
    );
  });

  it('gives a URL with a wrong path its own reason: not_found', async () => {
    const env = envOnly({ ...alice('alice-password'), VIDISPINE_URL: `${sim.url}/vidispine` });
    const result = await runCli(['check'], { env });
    expect(resultColumn(result.stdout)).toBe(
      `error: not_found: Vidispine has neither GET /API/token nor GET /API/user/{user}/token under ${sim.url}/vidispine: is VIDISPINE_URL the server root, without /API (e.g. http://vidispine:8080)? (HTTP 404 to GET /API/user/alice/token)`,
    );
    // The summary names the URL as configured, path included: that is the mistake to see.
    expect(result.stdout.trimEnd().split('\n').pop()).toBe(
      `1 of 1 user failed against ${sim.url}/vidispine`,
    );
    const fromFile = await runCli(
      [
        'check',
        ...yaml(
          `vidispine: { url: ${sim.url}/vidispine }\nusers: [{ name: alice, password: alice-password, listen: 127.0.0.1:0 }]\n`,
        ),
      ],
      { env: envOnly({}) },
    );
    expect(resultColumn(fromFile.stdout)).toBe(
      `error: not_found: Vidispine has neither GET /API/token nor GET /API/user/{user}/token under ${sim.url}/vidispine: is vidispine.url the server root, without /API (e.g. http://vidispine:8080)? (HTTP 404 to GET /API/user/alice/token)`,
    );
  });
});

describe('a listener that cannot bind: one line naming the setting and the address, exit 1', () => {
  const expectOneLine = (stderr: string, line: string): void => {
    expect(stderr).toBe(`vidispine-auth-proxy: ${line}\n`);
  };
  const base = () => ({
    VIDISPINE_URL: sim.url,
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD: 'alice-password',
  });

  it.each([
    ['PROXY_LISTEN', () => ({ PROXY_LISTEN: busyAddress, OPS_LISTEN: '127.0.0.1:0' })],
    ['OPS_LISTEN', () => ({ PROXY_LISTEN: '127.0.0.1:0', OPS_LISTEN: busyAddress })],
  ])('env: %s', async (setting, vars) => {
    const result = await runCli(['run'], { env: envOnly({ ...base(), ...vars() }) });
    expect(result.code).toBe(1);
    expectOneLine(
      result.stderr,
      `${setting}: cannot listen on ${busyAddress}: the address is already in use (EADDRINUSE)`,
    );
    // The start line, then the same error once as a fatal JSON line: no stack trace.
    const lines = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => l.event)).toEqual(['starting', 'fatal']);
    expect(lines[1]).toMatchObject({
      level: 'fatal',
      phase: 'start',
      setting,
      address: busyAddress,
      code: 'EADDRINUSE',
      exitCode: 1,
      msg: `cannot start: ${setting}: cannot listen on ${busyAddress}: the address is already in use (EADDRINUSE); exiting with code 1`,
    });
    expect(result.stdout).not.toContain('alice-password');
    expect(result.stdout).not.toMatch(/"stack"| {4}at /);
  });

  it('yaml: users[1].listen', async () => {
    const config = yaml(`
vidispine: { url: ${sim.url} }
users:
  - { name: alice, password: alice-password, listen: 127.0.0.1:0 }
  - { name: bob, password: bob-password, listen: ${busyAddress} }
ops: { listen: off }
`);
    const result = await runCli(['run', ...config], { env: envOnly({}) });
    expect(result.code).toBe(1);
    expectOneLine(
      result.stderr,
      `users[1].listen: cannot listen on ${busyAddress}: the address is already in use (EADDRINUSE)`,
    );
  });

  it.each([
    ['--simulator-listen', () => ['--simulator-listen', busyAddress]],
    ['--listen', () => ['--listen', busyAddress, '--simulator-listen', '127.0.0.1:0']],
    [
      '--ops-listen',
      () => [
        '--ops-listen',
        busyAddress,
        '--listen',
        '127.0.0.1:0',
        '--simulator-listen',
        '127.0.0.1:0',
      ],
    ],
  ])('demo: %s', async (option, args) => {
    const result = await runCli(['demo', '--ops-listen', '127.0.0.1:0', ...args()], {
      env: envOnly({}),
    });
    expect(result.code).toBe(1);
    expectOneLine(
      result.stderr,
      `${option}: cannot listen on ${busyAddress}: the address is already in use (EADDRINUSE)`,
    );
  });
});

it('--help lists the demo options with their defaults', async () => {
  const result = await runCli(['--help']);
  const lines = result.stdout.split('\n');
  expect(lines).toContain(
    "      --listen ADDR            the proxy as alice; bob's listener takes the next port (default 127.0.0.1:8080)",
  );
  expect(lines).toContain(
    '      --ops-listen ADDR        health, metrics and the status page (default 127.0.0.1:9090)',
  );
  expect(lines).toContain(
    '      --simulator-listen ADDR  the bundled Vidispine simulator (default 127.0.0.1:18080)',
  );
});
