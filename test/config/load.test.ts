import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configFromObject, loadConfig, readSecret } from '../../src/config';

const dir = mkdtempSync(join(tmpdir(), 'vap-config-'));
let fileCount = 0;
function file(content: string): string {
  const path = join(dir, `f${++fileCount}`);
  writeFileSync(path, content);
  return path;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const ENV = {
  VIDISPINE_URL: 'http://vidispine:8080',
  VIDISPINE_USER: 'alice',
  VIDISPINE_PASSWORD: 'pw',
};

describe('environment mode', () => {
  it('applies every default', () => {
    const config = loadConfig({ env: ENV });
    expect(config.vidispine.url.href).toBe('http://vidispine:8080/');
    expect(config.vidispine).toMatchObject({
      mintTimeoutSeconds: 10,
      connectTimeoutSeconds: 5,
      upstreamTimeoutSeconds: 300,
      readTimeoutSeconds: 300,
      maxSockets: 256,
    });
    expect(config.vidispine.admin).toBeUndefined();
    expect(config.users).toEqual([
      {
        name: 'alice',
        secret: { kind: 'literal', value: 'pw' },
        listen: { host: '127.0.0.1', port: 8080 },
        selectUserHeader: undefined,
        allowRunAs: false,
        token: {
          seconds: 60,
          autoRefresh: false,
          serverRefreshIntervalSeconds: 10,
          safetyMarginSeconds: 5,
        },
      },
    ]);
    expect(config.ops.listen).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(config.proxy).toEqual({
      replayBufferBytes: 1048576,
      replayBufferTotalBytes: 16777216,
      clientBodyTimeoutSeconds: 60,
      expectContinueTimeoutMs: 1000,
      accessLog: false,
    });
    expect(config.log.level).toBe('info');
    expect(config.shutdown).toEqual({ delaySeconds: 5, drainSeconds: 30 });
  });

  it('reads every variable', () => {
    const pw = file('secret\n');
    const ca = file('-----BEGIN CERTIFICATE-----\n');
    const config = loadConfig({
      env: {
        VIDISPINE_URL: 'https://vs.example.com/prefix/',
        VIDISPINE_CA_FILE: ca,
        VIDISPINE_USER: 'bob',
        VIDISPINE_ADMIN_USER: 'admin',
        VIDISPINE_ADMIN_PASSWORD_FILE: pw,
        VIDISPINE_MINT_TIMEOUT_SECONDS: '3',
        VIDISPINE_CONNECT_TIMEOUT_SECONDS: '2',
        VIDISPINE_UPSTREAM_TIMEOUT_SECONDS: '60',
        VIDISPINE_READ_TIMEOUT_SECONDS: '90',
        VIDISPINE_MAX_SOCKETS: '16',
        PROXY_LISTEN: '[::1]:8181',
        ALLOW_RUNAS: 'true',
        TOKEN_SECONDS: '20',
        TOKEN_AUTO_REFRESH: 'yes',
        TOKEN_SERVER_REFRESH_INTERVAL_SECONDS: '4',
        TOKEN_SAFETY_MARGIN_SECONDS: '1.5',
        PROXY_REPLAY_BUFFER_BYTES: '0',
        PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1024',
        PROXY_CLIENT_BODY_TIMEOUT_SECONDS: '20',
        PROXY_EXPECT_CONTINUE_TIMEOUT_MS: '250',
        ACCESS_LOG: '1',
        OPS_LISTEN: 'off',
        LOG_LEVEL: 'debug',
        SHUTDOWN_DELAY_SECONDS: '0',
        SHUTDOWN_DRAIN_SECONDS: '10',
        VIDISPINE_PORT: 'tcp://10.0.0.1:8080',
      },
    });
    expect(config.vidispine.url.href).toBe('https://vs.example.com/prefix');
    expect(config.vidispine.caFile).toBe(ca);
    expect(config.vidispine.admin).toEqual({
      username: 'admin',
      secret: { kind: 'file', path: pw },
    });
    expect(config.vidispine).toMatchObject({
      mintTimeoutSeconds: 3,
      connectTimeoutSeconds: 2,
      upstreamTimeoutSeconds: 60,
      readTimeoutSeconds: 90,
      maxSockets: 16,
    });
    expect(config.users[0]).toMatchObject({
      name: 'bob',
      secret: undefined,
      listen: { host: '::1', port: 8181 },
      allowRunAs: true,
      token: {
        seconds: 20,
        autoRefresh: true,
        serverRefreshIntervalSeconds: 4,
        safetyMarginSeconds: 1.5,
      },
    });
    expect(config.proxy).toEqual({
      replayBufferBytes: 0,
      replayBufferTotalBytes: 1024,
      clientBodyTimeoutSeconds: 20,
      expectContinueTimeoutMs: 250,
      accessLog: true,
    });
    expect(config.ops.listen).toBeNull();
    expect(config.log.level).toBe('debug');
    expect(config.shutdown).toEqual({ delaySeconds: 0, drainSeconds: 10 });
  });

  it('defaults the margin to 10 % of a short lifetime', () => {
    expect(
      loadConfig({ env: { ...ENV, TOKEN_SECONDS: '20' } }).users[0].token.safetyMarginSeconds,
    ).toBe(2);
  });

  it('disables ops with an empty OPS_LISTEN', () => {
    expect(loadConfig({ env: { ...ENV, OPS_LISTEN: '' } }).ops.listen).toBeNull();
  });

  it.each([
    [{ VIDISPINE_URL: undefined }, 'VIDISPINE_URL: required'],
    [{ VIDISPINE_USER: undefined }, 'VIDISPINE_USER: required'],
    [{ VIDISPINE_URL: 'ftp://x' }, 'VIDISPINE_URL: must be an http:// or https:// URL'],
    [{ VIDISPINE_URL: 'http://x/?a=1' }, 'VIDISPINE_URL: must not have a query string or fragment'],
    [{ VIDISPINE_URL: 'http://x#f' }, 'VIDISPINE_URL: must not have a query string or fragment'],
    [{ VIDISPINE_URL: 'http://x:8080/API' }, 'VIDISPINE_URL: give the base URL without /API'],
    [{ VIDISPINE_URL: 'http://u:p@x' }, 'VIDISPINE_URL: must not contain credentials'],
    [{ VIDISPINE_URL: 'not a url' }, 'VIDISPINE_URL: "not a url" is not a URL'],
    [{ PROXY_LISTEN: '8080' }, 'PROXY_LISTEN: "8080" is not host:port'],
    [
      { PROXY_LISTEN: '::1:8080' },
      'PROXY_LISTEN: "::1:8080" is not host:port (put an IPv6 address in brackets',
    ],
    [{ PROXY_LISTEN: '127.0.0.1:70000' }, 'PROXY_LISTEN: port 70000 is out of range'],
    [{ PROXY_LISTEN: '[nonsense]:80' }, 'PROXY_LISTEN: "nonsense" is not an IPv6 address'],
    [{ OPS_LISTEN: '127.0.0.1:8080' }, 'OPS_LISTEN: address already used by users[0]'],
    [{ TOKEN_SECONDS: '0' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: '1.5' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: 'sixty' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_AUTO_REFRESH: 'maybe' }, 'TOKEN_AUTO_REFRESH: must be true or false'],
    [
      { TOKEN_SAFETY_MARGIN_SECONDS: '60' },
      'TOKEN_SAFETY_MARGIN_SECONDS: must be less than the token lifetime (60 s)',
    ],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
    ],
    [{ VIDISPINE_PASSWORD: undefined }, 'VIDISPINE_PASSWORD: user "alice" has no password source'],
    [
      { VIDISPINE_PASSWORD: '' },
      'VIDISPINE_PASSWORD: the password given in the configuration is empty',
    ],
    [
      { VIDISPINE_PASSWORD_FILE: '/nonexistent/pw' },
      'VIDISPINE_PASSWORD: give only one password source',
    ],
    [
      { VIDISPINE_PASSWORD: undefined, VIDISPINE_PASSWORD_FILE: '/nonexistent/pw' },
      'VIDISPINE_PASSWORD_FILE: cannot read file /nonexistent/pw (ENOENT)',
    ],
    [
      { VIDISPINE_ADMIN_USER: 'admin' },
      'VIDISPINE_ADMIN_PASSWORD: no password source for the admin credential',
    ],
    [{ VIDISPINE_ADMIN_PASSWORD: 'x' }, 'VIDISPINE_ADMIN_USER: required'],
    [
      { VIDISPINE_CA_FILE: '/nonexistent/ca.pem' },
      'VIDISPINE_CA_FILE: cannot read file /nonexistent/ca.pem (ENOENT)',
    ],
  ])('rejects %j', (change, message) => {
    const env: NodeJS.ProcessEnv = { ...ENV, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete env[k];
    expect(errorOf(() => loadConfig({ env })).message).toContain(message);
  });

  it('never puts a secret value in a message', () => {
    const err = errorOf(() =>
      loadConfig({
        env: { ...ENV, VIDISPINE_PASSWORD: 's3cret', VIDISPINE_PASSWORD_FILE: file('s3cret') },
      }),
    );
    expect(err.message).not.toContain('s3cret');
  });
});

const YAML_BASE = `
vidispine:
  url: http://vidispine:8080
  admin: { username: admin, password: adminpw }
users:
  - name: alice
    password: alice-password
    listen: 127.0.0.1:8080
`;

describe('file mode', () => {
  it('reads the design example with per-user overrides', () => {
    const pwFile = file('ingest-pw\n');
    const config = loadConfig({
      file: file(`
vidispine:
  url: http://vidispine:8080
  admin:
    username: admin
    passwordEnv: ADMIN_PW
  mintTimeoutSeconds: 2
token:
  seconds: 120
  autoRefresh: false
  safetyMarginSeconds: 3
users:
  - name: ingest
    passwordFile: ${pwFile}
    listen: 127.0.0.1:8080
    selectUserHeader: X-Vidispine-User
    allowRunAs: true
  - name: reporting
    listen: 127.0.0.1:8081
    token: { seconds: 3600, autoRefresh: true, serverRefreshIntervalSeconds: 30 }
  - name: batch
ops:
  listen: off
log:
  level: warn
shutdown: { delaySeconds: 1, drainSeconds: 2 }
proxy: { replayBufferBytes: 10, replayBufferTotalBytes: 100, clientBodyTimeoutSeconds: 5, expectContinueTimeoutMs: 5, accessLog: true }
`),
      env: { ADMIN_PW: 'x', VIDISPINE_URL: 'http://ignored' },
    });
    expect(config.vidispine.url.href).toBe('http://vidispine:8080/');
    expect(config.vidispine.admin).toEqual({
      username: 'admin',
      secret: { kind: 'env', name: 'ADMIN_PW' },
    });
    expect(config.vidispine.mintTimeoutSeconds).toBe(2);
    expect(config.users.map((u) => [u.name, u.listen, u.token])).toEqual([
      [
        'ingest',
        { host: '127.0.0.1', port: 8080 },
        {
          seconds: 120,
          autoRefresh: false,
          serverRefreshIntervalSeconds: 10,
          safetyMarginSeconds: 3,
        },
      ],
      [
        'reporting',
        { host: '127.0.0.1', port: 8081 },
        {
          seconds: 3600,
          autoRefresh: true,
          serverRefreshIntervalSeconds: 30,
          safetyMarginSeconds: 3,
        },
      ],
      [
        'batch',
        undefined,
        {
          seconds: 120,
          autoRefresh: false,
          serverRefreshIntervalSeconds: 10,
          safetyMarginSeconds: 3,
        },
      ],
    ]);
    expect(config.users[0]).toMatchObject({
      secret: { kind: 'file', path: pwFile },
      selectUserHeader: 'x-vidispine-user',
      allowRunAs: true,
    });
    expect(config.ops.listen).toBeNull();
    expect(config.log.level).toBe('warn');
    expect(config.shutdown).toEqual({ delaySeconds: 1, drainSeconds: 2 });
    expect(config.proxy).toEqual({
      replayBufferBytes: 10,
      replayBufferTotalBytes: 100,
      clientBodyTimeoutSeconds: 5,
      expectContinueTimeoutMs: 5,
      accessLog: true,
    });
  });

  it('takes the file from CONFIG_FILE and lets LOG_LEVEL override log.level', () => {
    const path = file(YAML_BASE + 'log: { level: warn }\n');
    expect(loadConfig({ env: { CONFIG_FILE: path } }).log.level).toBe('warn');
    expect(loadConfig({ env: { CONFIG_FILE: path, LOG_LEVEL: 'debug' } }).log.level).toBe('debug');
    expect(loadConfig({ file: path, env: { CONFIG_FILE: '/nonexistent' } }).users[0].name).toBe(
      'alice',
    );
  });

  it.each([
    [YAML_BASE + 'extra: 1\n', 'extra: unknown key'],
    [
      YAML_BASE.replace('listen: 127.0.0.1:8080', 'listen: 127.0.0.1:8080\n    lisen: x'),
      'users[0].lisen: unknown key',
    ],
    [YAML_BASE.replace('admin:', 'admn:'), 'vidispine.admn: unknown key'],
    [
      YAML_BASE + '  - name: bob\n    listen: 127.0.0.1:8080\n',
      'users[1].listen: address already used by users[0]',
    ],
    [
      YAML_BASE + '  - name: bob\n    listen: 0.0.0.0:8080\n',
      'users[1].listen: address already used by users[0]',
    ],
    [YAML_BASE + '  - name: alice\n', 'users[1].name: "alice" already used by users[0]'],
    [
      YAML_BASE + 'ops: { listen: "127.0.0.1:8080" }\n',
      'ops.listen: address already used by users[0]',
    ],
    [YAML_BASE.replace('    listen: 127.0.0.1:8080\n', ''), 'users: no user has a listen address'],
    [
      YAML_BASE.replace('  admin: { username: admin, password: adminpw }\n', '') +
        '  - name: bob\n',
      'users[1]: user "bob" has no password source and there is no vidispine.admin credential',
    ],
    [YAML_BASE + 'token: { seconds: -5 }\n', 'token.seconds: must be a positive integer'],
    [YAML_BASE + 'token: { seconds: 30.5 }\n', 'token.seconds: must be a positive integer'],
    [YAML_BASE + 'token: { seconds: "60" }\n', 'token.seconds: must be a positive integer'],
    [
      YAML_BASE.replace(
        'listen: 127.0.0.1:8080',
        'listen: 127.0.0.1:8080\n    token: { safetyMarginSeconds: 70 }',
      ),
      'users[0].token.safetyMarginSeconds: must be less than the token lifetime (60 s)',
    ],
    [
      YAML_BASE.replace('password: alice-password', 'passwordFile: /nonexistent/alice'),
      'users[0].passwordFile: cannot read file /nonexistent/alice (ENOENT)',
    ],
    [
      YAML_BASE.replace('password: alice-password', 'passwordEnv: NOPE'),
      'users[0].passwordEnv: environment variable NOPE is not set',
    ],
    [
      YAML_BASE.replace('password: alice-password', 'password: ""'),
      'users[0].password: the password given in the configuration is empty',
    ],
    [
      YAML_BASE.replace('url: http://vidispine:8080', 'url: http://vidispine:8080/?x=1'),
      'vidispine.url: must not have a query string',
    ],
    [YAML_BASE + 'users: []\n', 'Map keys must be unique'],
    ['vidispine: [\n', 'YAML:'],
    ['users:\n  - name: a\n', 'vidispine: required'],
    [YAML_BASE.replace('users:', 'users:\n  - 5'), 'users[0]: Invalid input'],
    [YAML_BASE + 'log: { level: chatty }\n', 'log.level: must be one of'],
    [YAML_BASE + 'ops: { listen: 9090 }\n', 'ops.listen: must be host:port, or "off" to disable'],
    [
      YAML_BASE.replace(
        'listen: 127.0.0.1:8080',
        'listen: 127.0.0.1:8080\n    selectUserHeader: "bad header"',
      ),
      'users[0].selectUserHeader: must be an HTTP header name',
    ],
  ])('rejects case %#', (yaml, message) => {
    expect(errorOf(() => loadConfig({ file: file(yaml), env: {} })).message).toContain(message);
  });

  it('reports every problem at once, one per line', () => {
    const err = errorOf(() =>
      loadConfig({ file: file(YAML_BASE + 'extra: 1\ntoken: { seconds: 0 }\n'), env: {} }),
    );
    expect(err.issues.map((i) => i.key).sort()).toEqual(['extra', 'token.seconds']);
    expect(err.message.split('\n')).toHaveLength(2);
  });

  it('fails with --config naming an unreadable file', () => {
    expect(errorOf(() => loadConfig({ file: '/nonexistent/config.yaml', env: {} })).message).toBe(
      '--config: cannot read /nonexistent/config.yaml (ENOENT)',
    );
  });

  it('rejects a secret file it cannot read for permission reasons', () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const pw = file('x');
    chmodSync(pw, 0o000);
    const yaml = YAML_BASE.replace('password: alice-password', `passwordFile: ${pw}`);
    expect(errorOf(() => loadConfig({ file: file(yaml), env: {} })).message).toContain('(EACCES)');
  });
});

describe('readSecret', () => {
  it('re-reads the file each time and trims only trailing newlines', () => {
    const path = file('first\n');
    expect(readSecret({ kind: 'file', path }, {})).toBe('first');
    writeFileSync(path, ' second \r\n\n');
    expect(readSecret({ kind: 'file', path }, {})).toBe(' second ');
  });

  it('reads the environment it is given', () => {
    expect(readSecret({ kind: 'env', name: 'PW' }, { PW: 'v' })).toBe('v');
    expect(() => readSecret({ kind: 'env', name: 'PW' }, { PW: '\n' })).toThrow(
      'environment variable PW is empty',
    );
  });
});

describe('configFromObject', () => {
  it('validates an object built in code like a file', () => {
    const config = configFromObject(
      {
        vidispine: { url: 'http://127.0.0.1:1' },
        users: [{ name: 'a', passwordEnv: 'PW', listen: '127.0.0.1:0' }],
      },
      { PW: 'x' },
    );
    expect(config.users[0].secret).toEqual({ kind: 'env', name: 'PW' });
    expect(() => configFromObject({ users: [] }, {})).toThrow('vidispine: required');
  });
});
