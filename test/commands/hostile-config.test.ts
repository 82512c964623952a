/**
 * Hostile configuration and secret files, against the real CLI in child processes: every
 * one exits 2 at once with the key named and nothing secret echoed — or, for a secret file
 * swapped while the proxy runs, costs the mints that need it and nothing else.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator, type Simulator } from '../../src/simulator';
import { ChildProxy } from '../support/child-proxy';
import { CLI, runCli } from '../support/cli';

const dir = mkdtempSync(join(tmpdir(), 'vap-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

const children: ChildProxy[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill()));

const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  VIDISPINE_URL: sim.url,
  VIDISPINE_USER: 'alice',
  PROXY_LISTEN: '127.0.0.1:0',
  OPS_LISTEN: '127.0.0.1:0',
  ...extra,
});

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

it.each([
  [
    'run',
    { VIDISPINE_URL: 'http://admin:s3cret@host:80800', VIDISPINE_PASSWORD: 'pw' },
    /VIDISPINE_URL: "http:\/\/\[REDACTED\]@host:80800" is not a URL/,
  ],
  [
    'run',
    { VIDISPINE_PASSWORD: 'pw', TOKEN_SECONDS: '10000000000000' },
    /TOKEN_SECONDS: must be at most 2147483647/,
  ],
  [
    'run',
    { VIDISPINE_PASSWORD: 'pw', VIDISPINE_MINT_TIMEOUT_SECONDS: '3000000' },
    /VIDISPINE_MINT_TIMEOUT_SECONDS: must be a number of seconds above 0 and up to 300/,
  ],
  [
    'run',
    { VIDISPINE_PASSWORD: 'pw', SHUTDOWN_DRAIN_SECONDS: '3000000' },
    /SHUTDOWN_DRAIN_SECONDS: must be a number of seconds from 0 to 86400/,
  ],
  [
    'run',
    { VIDISPINE_PASSWORD: 'pw', TOKEN_SAFETY_MARGIN_SECONDS: '40' },
    /TOKEN_SAFETY_MARGIN_SECONDS: must be at most half the token lifetime \(30 s of 60 s\)/,
  ],
  [
    'run',
    { VIDISPINE_USER: '..', VIDISPINE_PASSWORD: 'pw' },
    /VIDISPINE_USER: must not be '\.' or '\.\.'/,
  ],
  [
    'check',
    { VIDISPINE_PASSWORD_FILE: '/dev/zero' },
    /VIDISPINE_PASSWORD_FILE: file \/dev\/zero is not a regular file/,
  ],
])('%s %j → exit 2 at once, the key named', async (command, extra, message) => {
  const result = await runCli([command], { env: env(extra), timeoutMs: 10_000 });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toContain('s3cret');
});

it('check with a FIFO for a secret file exits 2 at once instead of waiting for a writer', async () => {
  const path = fifo('check-fifo');
  const result = await runCli(['check'], {
    env: env({ VIDISPINE_PASSWORD_FILE: path }),
    timeoutMs: 10_000,
  });
  expect(result.signal).toBeNull();
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`VIDISPINE_PASSWORD_FILE: file ${path} is not a regular file`);
});

describe('YAML that cannot be read is reported by line, column and key, never by its text', () => {
  const SECRET = 'Sup3rSecret';
  const withPassword = (value: string): string =>
    `vidispine:\n  url: ${'http://127.0.0.1:1'}\nusers:\n  - name: alice\n    password: ${value}\n    listen: 127.0.0.1:0\n`;

  it.each([
    ['check', `*${SECRET}`, /line 5, column 15 \(users\[0\]\.password\): an alias .* no anchor/],
    ['run', `*${SECRET}`, /line 5, column 15 \(users\[0\]\.password\): an alias .* no anchor/],
    ['check', `|${SECRET}`, /line 5, column 16 \(users\[0\]\.password\): unexpected text/],
    ['run', `>${SECRET}`, /line 5, column 16 \(users\[0\]\.password\): unexpected text/],
    ['check', `!${SECRET}`, /line 5, column 15 \(users\[0\]\.password\): unknown YAML tag/],
    ['run', `!${SECRET} x`, /line 5, column 15 \(users\[0\]\.password\): unknown YAML tag/],
    ['check', `"a\\q${SECRET}"`, /line 5, column \d+ \(users\[0\]\.password\): invalid escape/],
    ['check', `@${SECRET}`, /line 5, column 15 \(users\[0\]\.password\): a plain value cannot/],
    ['check', `"${SECRET}`, /line 7, column 1 \(users\[0\]\.password\): a closing quote/],
  ])(
    '%s with password: %s exits 2, the place named, the value never shown',
    async (command, value, message) => {
      const path = join(dir, 'secret-syntax.yaml');
      writeFileSync(path, withPassword(value));
      const result = await runCli([command, '--config', path], { timeoutMs: 10_000 });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${path}: line `);
      expect(result.stderr).toMatch(message);
      expect(result.stdout + result.stderr).not.toMatch(/up3rSec|Secret/);
    },
  );

  it.each([
    [`    password ${SECRET}`, 'line 5, column 5 (users[0]): a key that spans lines'],
    [`    password: ${SECRET}: x`, "line 5, column 15 (users[0].password): a second ': '"],
    [`    password: - ${SECRET}`, 'line 5, column 15 (users[0].password): unexpected text'],
    [`    ${SECRET}`, 'line 5, column 5 (users[0]): a key that spans lines'],
    [
      `    password:${SECRET}:`,
      'users[0]: an unknown key, not shown since it may hold a value (a missing space after a colon?); did you mean "password: …"?',
    ],
  ])('a password mistaken for a key (%s) is never named as one', async (line, message) => {
    const path = join(dir, 'secret-key.yaml');
    writeFileSync(
      path,
      `vidispine:\n  url: http://127.0.0.1:1\nusers:\n  - name: alice\n${line}\n    listen: 127.0.0.1:0\n`,
    );
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout + result.stderr).not.toMatch(/up3rSec|Secret/);
  });

  it.each([
    ['run', `{{${SECRET}}}`, 'users[0].password: must be a string'],
    ['check', `{[${SECRET}]: x}`, 'users[0].password: must be a string'],
  ])(
    '%s with password: %s (a block as a key) exits 2 without the reader quoting the key',
    async (command, value, message) => {
      const path = join(dir, 'collection-key.yaml');
      writeFileSync(path, withPassword(value));
      const result = await runCli([command, '--config', path], { timeoutMs: 10_000 });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stdout + result.stderr).not.toMatch(/up3rSec|Secret|Warning/);
    },
  );

  it("a key written without ': ' (password:…) is named as such, its value never shown", async () => {
    const path = join(dir, 'no-space.yaml');
    writeFileSync(
      path,
      `vidispine:\n  url: http://127.0.0.1:1\nusers:\n  - name: alice\n    listen: 127.0.0.1:0\n    password:${SECRET}\n`,
    );
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "line 6, column 5 (users[0]): a key needs ': ' (colon and space) before its value",
    );
    expect(result.stdout + result.stderr).not.toMatch(/up3rSec|Secret/);
  });

  it.each([
    [
      'a duplicate key',
      'vidispine:\n  url: http://v:8080\nusers:\n  - name: a\n    password: x\n    listen: 127.0.0.1:0\n    password: y\n',
      'FILE: line 7, column 5 (users[0].password): duplicate key',
    ],
    [
      'a tab as indentation',
      'vidispine:\n  url: http://v:8080\nusers:\n  - name: a\n\tpassword: x\n',
      'FILE: line 5, column 1 (users[0]): a tab used for indentation: indent with spaces',
    ],
    ['an empty file', '', '--config: FILE is empty'],
    ['a file of comments', '# vidispine:\n#   url: x\n', '--config: FILE is empty'],
    [
      'a list at the top',
      '- vidispine: {}\n',
      '--config: FILE: the top level must be a mapping (vidispine:, users:, …), not a list',
    ],
    [
      'a single value at the top',
      'vidispine\n',
      '--config: FILE: the top level must be a mapping (vidispine:, users:, …), not a single value',
    ],
    [
      'two documents',
      'vidispine: {}\n---\nusers: []\n',
      'FILE: line 2, column 1: a second YAML document starts here (---): the configuration is one document; merge the two, or remove this line and what follows',
    ],
  ])('%s exits 2 with a message of its own', async (_, yaml, message) => {
    const path = join(dir, 'bad-shape.yaml');
    writeFileSync(path, yaml);
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message.replace('FILE', path));
    expect(result.stderr).not.toMatch(/Invalid input|received null|Map keys/);
  });

  const VALID =
    'vidispine:\n  url: http://v:8080\nusers:\n  - name: a\n    password: x\n    listen: 127.0.0.1:0\nops:\n  listen: off\n';

  it.each([
    [
      'a trailing --- (a second, empty document)',
      `${VALID}---\n`,
      'FILE: line 9, column 1: a second YAML document starts here (---), with nothing in it: remove this line',
    ],
    [
      'a trailing --- and a comment',
      `${VALID}---\n# the end\n`,
      'FILE: line 9, column 1: a second YAML document starts here (---), with nothing in it: remove this line',
    ],
    [
      'a top-level key holding only an anchor',
      `${VALID}x: &a\n`,
      'x: unknown key; the keys here are vidispine, users, token, proxy, ops, log and shutdown',
    ],
    [
      'a bare port as a listener',
      VALID.replace('listen: 127.0.0.1:0', 'listen: 8080'),
      'users[0].listen: 8080 is a port alone: write host:port, 127.0.0.1:8080 (local connections only) or [::]:8080 (every address, IPv6 and IPv4)',
    ],
    [
      'a bare port, quoted, as a listener',
      VALID.replace('listen: 127.0.0.1:0', 'listen: "8080"'),
      'users[0].listen: 8080 is a port alone: write host:port, 127.0.0.1:8080 (local connections only) or [::]:8080 (every address, IPv6 and IPv4)',
    ],
    [
      'a bare port as the ops listener',
      VALID.replace('listen: off', 'listen: 9090'),
      'ops.listen: 9090 is a port alone: write host:port, 127.0.0.1:9090 (local connections only) or [::]:9090 (every address, IPv6 and IPv4); or off to disable it',
    ],
    [
      'a duplicate top-level key',
      `${VALID}vidispine:\n  url: http://w:8080\n`,
      'FILE: line 9, column 1 (vidispine): duplicate key, given first on line 1: keep one',
    ],
    [
      'a tab as indentation, which the reader then misreads in further places',
      VALID.replace('  - name: a', '\t- name: a'),
      'FILE: line 4, column 1 (users): a tab used for indentation: indent with spaces',
    ],
    [
      'a tab before a nested key',
      VALID.replace('    password: x', '\t  password: x'),
      'FILE: line 5, column 1 (users[0]): a tab used for indentation: indent with spaces',
    ],
  ])('%s exits 2 with one message naming the place and what to write', async (_, yaml, message) => {
    const path = join(dir, 'slip.yaml');
    writeFileSync(path, yaml);
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'vidispine-auth-proxy: configuration error',
      `  ${message.replace('FILE', path)}`,
    ]);
  });

  it('a directory given as the file exits 2 saying so', async () => {
    const result = await runCli(['check', '--config', dir], { timeoutMs: 10_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `--config: cannot read ${dir}: it is a directory; give the path of the YAML file (EISDIR)`,
    );
  });
});

describe('the configuration file is read as UTF-8 bytes, and only so many', () => {
  const config = (password: Buffer): Buffer =>
    Buffer.concat([
      Buffer.from(`vidispine:\n  url: ${sim.url}\nusers:\n  - name: alice\n    password: `),
      password,
      Buffer.from('\n    listen: 127.0.0.1:0\n'),
    ]);

  it('a password that is not UTF-8 exits 2 naming the line and byte, not "wrong password"', async () => {
    const path = join(dir, 'latin1.yaml');
    const bytes = config(Buffer.from('p\xe4ss', 'latin1'));
    writeFileSync(path, bytes);
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${path}: line 5: byte ${bytes.indexOf(0xe4)} (counted from 0) is not UTF-8`,
    );
    expect(result.stdout).toBe('');
  });

  it('a file past 1 MiB (here /dev/zero) exits 2 as too large instead of exhausting memory', async () => {
    const result = await runCli(['check', '--config', '/dev/zero'], { timeoutMs: 10_000 });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      '--config: /dev/zero is too large for a configuration file (more than 1048576 bytes)',
    );
  });

  it('a byte order mark and CRLF line ends are read as the same file without them', async () => {
    const path = join(dir, 'windows.yaml');
    const text = config(Buffer.from('alice-password')).toString('utf8');
    writeFileSync(path, `\ufeff${text.replaceAll('\n', '\r\n')}`);
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('a FIFO, as from <(…), is read to its end', async () => {
    const path = fifo('config-fifo');
    const writer = writeFile(path, config(Buffer.from('alice-password')));
    const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
    await writer;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

it.each([
  [
    'VIDISPINE_PASSWORD',
    false,
    'VIDISPINE_PASSWORD: the value holds U+FFFD',
    'VIDISPINE_PASSWORD_FILE',
  ],
  [
    'PW',
    true,
    'users[0].passwordEnv: environment variable PW holds U+FFFD',
    'users[0].passwordFile',
  ],
])(
  'an environment secret %s that is not UTF-8 exits 2 pointing at the file form',
  (variable, passwordEnv, message, fileForm) => {
    const vars = env({});
    if (passwordEnv) {
      vars.CONFIG_FILE = join(dir, 'password-env.yaml');
      writeFileSync(
        vars.CONFIG_FILE,
        `vidispine: { url: "${sim.url}" }\nusers:\n  - { name: alice, passwordEnv: PW, listen: "127.0.0.1:0" }\n`,
      );
    }
    // Node's own environment holds only text: the shell puts the Latin-1 byte in place.
    const result = spawnSync(
      'sh',
      ['-c', `${variable}="$(printf 'p\\344ss')" exec "$0" "$1" check`, process.execPath, CLI],
      { env: vars, encoding: 'utf8', timeout: 10_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain(`put the secret in a file (${fileForm})`);
  },
);

it('a billion laughs in the YAML file exits 2, not 1', async () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) {
    const [prev, next] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
    lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  const path = join(dir, 'laughs.yaml');
  writeFileSync(path, `${lines.join('\n')}\n`);
  const result = await runCli(['run', '--config', path], { env: { PATH: process.env.PATH } });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`${path}: aliases (*…) that expand to too many values`);
});

it.each([
  [
    'check',
    'users: &l\n  - *l\n',
    'line 4, column 5 (users[0]): an alias (*…) inside the block its anchor (&…) names',
  ],
  [
    'inject',
    'sidecar: &s\n  image: x\n  env: *s\n',
    'line 5, column 8 (sidecar): an alias (*…) inside the block its anchor (&…) names',
  ],
])(
  '%s with an alias inside its own anchor exits 2 naming it, not 1 on a stack overflow',
  async (command, yaml, message) => {
    const path = join(dir, 'self-alias.yaml');
    writeFileSync(path, `vidispine:\n  url: http://127.0.0.1:1\n${yaml}`);
    const result = await runCli([command, '--config', path], {
      env: { PATH: process.env.PATH },
      timeoutMs: 10_000,
    });
    expect(result.stderr).toContain(`${path}: ${message}`);
    expect(result.code).toBe(2);
  },
);

const MERGE_OF_VALUE =
  /: line 5, column 5 \(users\[0\]\): a merge key \(<<\) takes an anchored mapping \(<<: \*defaults\) or a list of them/;

it.each([
  ['    <<: Sup3rSecret\n', MERGE_OF_VALUE],
  ['    <<: [*name]\n', MERGE_OF_VALUE],
  // The column is where the reader ran out of stack, which depends on the Node.js version.
  [
    `    x: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
    /: line 5, column \d+ \(users\[0\]\): lists or blocks nested too deeply to read/,
  ],
])('a YAML file with %#: no aliases blamed, the place named', async (line, message) => {
  const path = join(dir, 'merge-scalar.yaml');
  writeFileSync(
    path,
    `vidispine:\n  url: http://127.0.0.1:1\nusers:\n  - name: &name alice\n${line}    listen: 127.0.0.1:0\n`,
  );
  const result = await runCli(['check', '--config', path], { timeoutMs: 10_000 });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`${path}: line 5, column `);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toContain('aliases (*…)');
  expect(result.stdout + result.stderr).not.toMatch(/up3rSec|Secret/);
});

it('a secret file swapped for a FIFO while running: mints fail, the proxy keeps serving and stops on SIGTERM', async () => {
  const secret = join(dir, 'password');
  writeFileSync(secret, 'alice-password\n');
  const proxy = ChildProxy.start(
    ['run'],
    env({ VIDISPINE_PASSWORD_FILE: secret, SHUTDOWN_DELAY_SECONDS: '0', TOKEN_SECONDS: '4' }),
  );
  // Killed even when the test times out (a timed-out test never reaches its finally).
  children.push(proxy);
  try {
    const listening = await proxy.waitForEvent('listening');
    const ops = (listening.ops as { port: number }).port;
    await proxy.waitForEvent('token_minted');
    // Swapped atomically, as a Secret update would: the next renewal meets a FIFO.
    const staged = fifo('staged-fifo');
    renameSync(staged, secret);
    const failed = await proxy.waitFor(
      (l) => l.event === 'token_mint_failed' && l.reason === 'secret_unreadable',
    );
    expect(String(failed.error)).toContain('is not a regular file');
    // The event loop is free: probes answer at once.
    expect((await fetch(`http://127.0.0.1:${ops}/livez`)).status).toBe(200);
    // A symbolic link to a regular file (as Kubernetes mounts Secrets) is read again.
    const real = join(dir, 'real-password');
    writeFileSync(real, 'alice-password\n');
    rmSync(secret);
    symlinkSync(real, secret);
    const minted = () => proxy.lines.filter((l) => l.event === 'token_minted').length;
    const before = minted();
    await proxy.waitForText(() => minted() > before);
    proxy.kill('SIGTERM');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
  } finally {
    proxy.kill();
  }
}, 30_000);
