import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import https from 'node:https';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator, type Simulator } from '../../src/simulator';
import { createTestCa } from '../support/certificates';
import { runCli, type CliResult } from '../support/cli';
import { closedPort } from '../support/net';

// `check` as users run it: the built CLI in a child process, against a real simulator.
const dir = mkdtempSync(join(tmpdir(), 'vap-check-'));
let sim: Simulator;
let count = 0;

beforeAll(async () => {
  sim = createSimulator({});
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

function configFile(yaml: string): string {
  const path = join(dir, `config-${++count}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

const PASSWORDS = ['alice-password', 'bob-password', 'not-the-password'];

function expectNoSecrets(text: string): void {
  for (const secret of PASSWORDS) expect(text).not.toContain(secret);
  // The simulator issued tokens to the child; none may be printed.
  expect(sim.tokenCount()).toBeGreaterThan(0);
  expect(text).not.toMatch(/[A-Za-z0-9_-]{24,}/);
}

it('mints and validates one token per user, prints a table, exits 0', async () => {
  sim.resetCalls();
  const path = configFile(`
vidispine:
  url: ${sim.url}
  admin: { username: admin, passwordEnv: ADMIN_PASSWORD }
users:
  - name: alice
    password: alice-password
    listen: 127.0.0.1:0
  - name: bob
    token: { seconds: 3600, autoRefresh: true }
`);
  const result = await runCli(['check', '--config', path], {
    env: { PATH: process.env.PATH, ADMIN_PASSWORD: 'admin' },
  });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^USER\s+CREDENTIAL\s+ENDPOINT\s+LIFETIME\s+RESULT$/);
  expect(lines[1]).toMatch(/^alice\s+password\s+GET \/API\/token\s+60 s\s+ok$/);
  expect(lines[2]).toMatch(
    /^bob\s+admin "admin" \(password\)\s+GET \/API\/user\/bob\/token\s+3600 s, autoRefresh\s+ok$/,
  );
  expect(lines[3]).toBe(`all 2 users OK against ${sim.url}`);
  expect(sim.calls({ endpoint: 'token', user: 'alice' })).toBe(1);
  expect(sim.calls({ endpoint: 'user_token', user: 'bob' })).toBe(1);
  expectNoSecrets(result.stdout);
});

it('aligns its columns by display width: CJK, emoji sequences and combining marks', async () => {
  // Four columns, two, and four with a combining accent: not their lengths (2, 5, 5).
  const names = ['田中', '👩‍💻', 'Jose\u0301'];
  const path = configFile(`
vidispine:
  url: ${sim.url}
  admin: { username: admin, password: admin }
users:
${names.map((name, i) => `  - { name: "${name}"${i === 0 ? ', listen: 127.0.0.1:0' : ''} }`).join('\n')}
`);
  const result = await runCli(['check', '--config', path]);
  // USER and the widest names take four columns: every credential starts at the seventh.
  const expected = [
    'USER  CREDENTIAL',
    '田中  admin "admin" (password)',
    '👩‍💻    admin "admin" (password)',
    'Jose\u0301  admin "admin" (password)',
  ];
  const lines = result.stdout.split('\n').slice(0, 4);
  expect(lines.map((line, i) => line.slice(0, expected[i].length))).toEqual(expected);
});

it('works from the environment alone', async () => {
  const result = await runCli(['check'], {
    env: {
      PATH: process.env.PATH,
      VIDISPINE_URL: sim.url,
      VIDISPINE_USER: 'bob',
      VIDISPINE_PASSWORD: 'bob-password',
    },
  });
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^bob\s+password\s+GET \/API\/token\s+60 s\s+ok$/m);
  expectNoSecrets(result.stdout);
});

it('a password file saved with a byte order mark (Notepad, PowerShell) passes: ok, exit 0', async () => {
  const file = join(dir, `bom-${++count}`);
  writeFileSync(
    file,
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('bob-password\r\n')]),
  );
  const result = await runCli(['check'], {
    env: {
      PATH: process.env.PATH,
      VIDISPINE_URL: sim.url,
      VIDISPINE_USER: 'bob',
      VIDISPINE_PASSWORD_FILE: file,
    },
  });
  expect(result.stdout).toMatch(/^bob\s+password\s+GET \/API\/token\s+60 s\s+ok$/m);
  expect(result.code).toBe(0);
});

it('exits 1 and says why when a user fails, without printing the password', async () => {
  const path = configFile(`
vidispine: { url: ${sim.url} }
users:
  - name: alice
    password: not-the-password
    listen: 127.0.0.1:0
  - name: bob
    password: bob-password
`);
  const result = await runCli(['check', '-c', path], { env: { PATH: process.env.PATH } });
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(
    /^alice\s+password\s+GET \/API\/token\s+60 s\s+error: unauthorized: Vidispine rejected the password of user "alice"/m,
  );
  expect(result.stdout).toMatch(/^bob\s+.*\s+ok$/m);
  expect(result.stdout).toContain('1 of 2 users failed');
  expectNoSecrets(result.stdout + result.stderr);
});

it('keeps its verdict for its exit code when nobody reads the table (EPIPE)', async () => {
  const env = (password: string) => ({
    PATH: process.env.PATH,
    VIDISPINE_URL: sim.url,
    VIDISPINE_USER: 'bob',
    VIDISPINE_PASSWORD: password,
  });
  const ok = await runCli(['check'], { env: env('bob-password'), closeStdout: true });
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  const failed = await runCli(['check'], { env: env('not-the-password'), closeStdout: true });
  expect(failed.stderr).toBe('');
  expect(failed.code).toBe(1);
});

it('exits 1 when Vidispine cannot be reached', async () => {
  const port = await closedPort();
  const result = await runCli(['check'], {
    env: {
      PATH: process.env.PATH,
      VIDISPINE_URL: `http://127.0.0.1:${port}`,
      VIDISPINE_USER: 'bob',
      VIDISPINE_PASSWORD: 'bob-password',
    },
  });
  expect(result.code).toBe(1);
  expect(result.stdout).toContain(
    `error: network: cannot reach Vidispine at http://127.0.0.1:${port} (ECONNREFUSED)`,
  );
});

/** `check` as alice against a stand-in Vidispine, closed afterwards with its connections. */
async function checkAgainst(server: NetServer): Promise<{ result: CliResult; url: string }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket.on('error', () => undefined)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const env = {
      PATH: process.env.PATH,
      VIDISPINE_URL: url,
      VIDISPINE_USER: 'alice',
      VIDISPINE_PASSWORD: 'alice-password',
    };
    return { result: await runCli(['check'], { env }), url };
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

it('prints a whoami answer naming another user as visible text, bounded: no terminal control reaches the table', async () => {
  // A Vidispine, or a gateway answering in its place, that names the token's owner with
  // escape sequences (clear the screen, set the window title), line breaks, bidi and
  // zero-width characters, in a body as long as the proxy reads.
  const owner =
    '\x1b[2J\x1b[1;31mroot\x1b]0;pwned\x07\r\nok\u202e\u200b\u0085\u009b31m' + 'x'.repeat(60_000);
  const { result } = await checkAgainst(
    createServer((req, res) => {
      const body = req.url?.startsWith('/API/whoami') ? owner : 'a-token';
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(body);
    }),
  );
  expect(result.code).toBe(1);
  const lines = result.stdout.split('\n');
  expect(lines).toHaveLength(4); // headings, alice, the verdict, and the last newline
  expect(lines[1]).toMatch(
    /token works but belongs to "\?\[2J\?\[1;31mroot\?\]0;pwned\?\?\?ok\?\?\?\?31mx+…"$/,
  );
  // No control or format character but the line ends.
  expect(result.stdout).not.toMatch(/[^\n\P{Cc}]|\p{Cf}/u);
  expect(lines[1].length).toBeLessThan(400);
});

it('says a port that answers with something other than HTTP answered, rather than could not be reached', async () => {
  // An SSH server, or any service on the port VIDISPINE_URL names by mistake, speaks first.
  const { result, url } = await checkAgainst(
    createNetServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n')),
  );
  expect(result.code).toBe(1);
  expect(result.stdout).toContain(
    `Vidispine at ${url} answered, but not in HTTP (HPE_INVALID_CONSTANT): check that VIDISPINE_URL names VidiCore's HTTP port, and any gateway in front of it`,
  );
  expect(result.stdout).not.toContain('cannot reach');
});

it('exits 2 on bad configuration, naming the key on stderr', async () => {
  const path = configFile(`
vidispine: { url: ${sim.url} }
users:
  - { name: alice, password: alice-password, listen: "127.0.0.1:8080" }
  - { name: bob, password: bob-password, listen: "127.0.0.1:8080" }
`);
  const result = await runCli(['check', '--config', path], { env: { PATH: process.env.PATH } });
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain('users[1].listen: address already used by users[0]');
  expectNoSecrets(result.stderr);
});

it('exits 2 on an unknown option', async () => {
  const result = await runCli(['check', '--bogus'], { env: { PATH: process.env.PATH } });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('--bogus');
});

it('access keys: mints with the key ID, and says so when the key is refused', async () => {
  const keyFile = join(dir, 'bob-key');
  writeFileSync(keyFile, 'bob-access-key\n');
  const env = {
    PATH: process.env.PATH,
    VIDISPINE_URL: sim.url,
    VIDISPINE_USER: 'bob',
    VIDISPINE_ACCESS_KEY_ID: 'VSIDB0BACCESSKEY0001',
    VIDISPINE_ACCESS_KEY_SECRET_FILE: keyFile,
  };
  const ok = await runCli(['check'], { env });
  expect(ok.stdout).toMatch(
    /^bob\s+access key VSIDB0BACCESSKEY0001\s+GET \/API\/token\s+60 s\s+ok$/m,
  );
  expect(ok.code).toBe(0);
  sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'INACTIVE');
  try {
    const refused = await runCli(['check'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /unauthorized: Vidispine rejected access key VSIDB0BACCESSKEY0001 of user "bob" \(its secret in file .*bob-key \(VIDISPINE_ACCESS_KEY_SECRET_FILE\); the key must be ACTIVE\)/,
    );
    // Variable names are not secrets.
    expectNoSecrets((refused.stdout + refused.stderr).replace(/VIDISPINE_[A-Z_]+/g, ''));
    expect(refused.stdout).not.toContain('bob-access-key');
  } finally {
    sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'ACTIVE');
  }
});

it('RunAs: a _runas account mints each user its token; the table names it', async () => {
  const path = configFile(`
vidispine:
  url: ${sim.url}
  runAs: { username: runas, password: runas-password }
users:
  - { name: alice, listen: 127.0.0.1:0 }
  - { name: admin }
`);
  const result = await runCli(['check', '--config', path], { env: { PATH: process.env.PATH } });
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(
    /^alice\s+RunAs "runas" \(password\)\s+GET \/API\/token \(RunAs: alice\)\s+60 s\s+ok$/m,
  );
  // A _runas account lends a user's rights; it cannot act as an administrator.
  expect(result.stdout).toMatch(
    /^admin\s+.*forbidden: the RunAs account "runas" may not run as "admin"/m,
  );
  expectNoSecrets(result.stdout.replace(/runas-password/g, ''));
  expect(result.stdout).not.toContain('runas-password');
});

it('warns when a user that is not minted by the admin asks for more than 60 s', async () => {
  const capped = createSimulator({ aboveMax: 'cap' });
  await capped.listen(0, '127.0.0.1');
  try {
    const result = await runCli(['check'], {
      env: {
        PATH: process.env.PATH,
        VIDISPINE_URL: capped.url,
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD: 'alice-password',
        TOKEN_SECONDS: '3600',
      },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /ok; warning: 3600 s is above Vidispine's default userTokenMaxInterval \(60 s\); unless the server's userTokenMaxInterval was raised/,
    );
  } finally {
    await capped.close();
  }
});

it('servers without GET /API/token: mints through GET /API/user/{self}/token', async () => {
  const old = createSimulator({ tokenEndpoint: false });
  await old.listen(0, '127.0.0.1');
  try {
    const result = await runCli(['check'], {
      env: {
        PATH: process.env.PATH,
        VIDISPINE_URL: old.url,
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD: 'alice-password',
      },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^alice\s+password\s+GET \/API\/user\/alice\/token\s+60 s\s+ok$/m,
    );
  } finally {
    await old.close();
  }
});

describe('servers without GET /API/whoami', () => {
  const checkWith = async (whoamiStatus: number): Promise<CliResult> => {
    const bare = createSimulator({ whoamiStatus });
    await bare.listen(0, '127.0.0.1');
    try {
      return await runCli(['check'], {
        env: {
          PATH: process.env.PATH,
          VIDISPINE_URL: bare.url,
          VIDISPINE_USER: 'alice',
          VIDISPINE_PASSWORD: 'alice-password',
        },
      });
    } finally {
      await bare.close();
    }
  };

  it.each([404, 405, 501])(
    'whoami answering %i: the minted token is ok, with a note, exit 0',
    async (status) => {
      const result = await checkWith(status);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(
          `^alice\\s+password\\s+GET /API/token\\s+60 s\\s+ok: token minted; not checked: GET /API/whoami answered ${status}$`,
          'm',
        ),
      );
      expect(result.stdout).toContain('1 user OK');
    },
  );

  it.each([401, 503])('whoami answering %i is still a failure, exit 1', async (status) => {
    const result = await checkWith(status);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(`^alice\\s+.*\\s+error: whoami failed: GET /API/whoami answered ${status}$`, 'm'),
    );
    expect(result.stdout).toContain('1 of 1 user failed');
  });
});

describe("the README's Troubleshooting examples are this program's output", () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Troubleshooting'));
  const alice = { VIDISPINE_USER: 'alice', VIDISPINE_PASSWORD: 'alice-password' };

  it.each([
    ['1. wrong password', '', { ...alice, VIDISPINE_PASSWORD: 'not-the-password' }],
    ['2. wrong URL', '/vidispine', alice],
    [
      '3. admin without rights',
      '',
      {
        VIDISPINE_USER: 'bob',
        VIDISPINE_ADMIN_USER: 'alice',
        VIDISPINE_ADMIN_PASSWORD: 'alice-password',
      },
    ],
    ['4. lifetime above the cap', '', { ...alice, TOKEN_SECONDS: '3600' }],
  ])('%s', async (_case, path, vars) => {
    const env = { PATH: process.env.PATH, VIDISPINE_URL: `${sim.url}${path}`, ...vars };
    const result = await runCli(['check'], { env });
    expect(result.code).toBe(1);
    // The README's placeholder for the simulator's address.
    const shown = result.stdout.replaceAll(sim.url, 'http://vidispine:8080');
    expect(section).toContain(`$ vidispine-auth-proxy check\n${shown}\`\`\``);
  });

  describe('5. TLS', () => {
    let server: https.Server;
    let port: number;
    let caFile: string;
    let otherCaFile: string;

    beforeAll(async () => {
      const ca = await createTestCa('vidispine CA');
      const leaf = await ca.issue({
        dns: ['vidispine.media.svc.cluster.local'],
        ips: ['127.0.0.1'],
      });
      caFile = join(dir, 'vidispine-ca.pem');
      writeFileSync(caFile, ca.certPem);
      otherCaFile = join(dir, 'other-ca.pem');
      writeFileSync(otherCaFile, (await createTestCa('another CA')).certPem);
      // The handshake fails before any request: nothing needs answering.
      server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_, res) =>
        res.writeHead(500).end(),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it.each([
      ['an unknown CA', '127.0.0.1', undefined, {}],
      ['a CA file that does not cover the chain', '127.0.0.1', 'other', {}],
      ['a certificate for other host names', 'localhost', 'right', {}],
      // Node would accept any certificate with it; the proxy never does.
      [
        'an unknown CA, NODE_TLS_REJECT_UNAUTHORIZED=0',
        '127.0.0.1',
        undefined,
        { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
      ],
    ])('%s', async (_case, host, ca, extra) => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        VIDISPINE_URL: `https://${host}:${port}`,
        ...alice,
        ...extra,
      };
      if (ca !== undefined) env.VIDISPINE_CA_FILE = ca === 'right' ? caFile : otherCaFile;
      const result = await runCli(['check'], { env });
      expect(result.code).toBe(1);
      // The README's placeholders for the address and the CA file.
      const shown = result.stdout
        .replaceAll(`https://${host}:${port}`, 'https://vidispine:8443')
        .replaceAll('localhost', 'vidispine')
        .replaceAll(otherCaFile, '/etc/ssl/vidispine-ca.pem');
      expect(section).toContain(`$ vidispine-auth-proxy check\n${shown}\`\`\``);
    });

    // A scheme that does not match the port: each says which one to use.
    it.each([
      ['http:// against the TLS port', () => `http://127.0.0.1:${port}`, 'http://vidispine:8443'],
      [
        'https:// against a plain HTTP port',
        () => sim.url.replace('http:', 'https:'),
        'https://vidispine:8080',
      ],
    ])('%s', async (_case, url, placeholder) => {
      const env = { PATH: process.env.PATH, VIDISPINE_URL: url(), ...alice };
      const result = await runCli(['check'], { env });
      expect(result.code).toBe(1);
      const shown = result.stdout.replaceAll(url(), placeholder);
      expect(section).toContain(`$ vidispine-auth-proxy check\n${shown}\`\`\``);
    });
  });
});

describe('a command written after its options', () => {
  const config = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-order-'));
    const path = join(dir, 'check.yaml');
    writeFileSync(
      path,
      `vidispine:\n  url: ${sim.url}\nusers:\n  - name: bob\n    password: bob-password\n    listen: 127.0.0.1:0\n`,
    );
    return path;
  };

  // git and kubectl take global options before the command too: "--config f.yaml check" was
  // read as run given the argument "check", and refused (exit 2).
  it.each([
    (file: string) => ['--config', file, 'check'],
    (file: string) => ['-c', file, 'check'],
    (file: string) => [`--config=${file}`, 'check'],
  ])('is run as that command (%#)', async (argv) => {
    const result = await runCli(argv(config()), { env: { PATH: process.env.PATH } });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^bob\s+.*\s+ok$/m);
    expect(result.code).toBe(0);
  });

  it('is not looked for in the value of --config: a file named check stays a file', async () => {
    const result = await runCli(['-c', 'check'], { env: { PATH: process.env.PATH } });
    expect(result.stderr).toContain('check');
    expect(result.stderr).toMatch(/ENOENT/);
    expect(result.code).toBe(2);
  });
});
