import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { z } from 'zod';
import { environmentMapping, proxyEnvironment } from '../../src/config/env';
import { injectorSchema } from '../../src/config/injector';
import { describedKeys } from '../../src/config/keys';
import { configFromObject, type LoadOptions, loadConfig } from '../../src/config/load';
import { fileSchema } from '../../src/config/schema';
import { readSecretNow } from '../../src/config/secrets';
import { runCli } from '../support/cli';
import { checkedConfigErrorOf, configErrorOf } from '../support/config-fixtures';
import { SECRET_ENV_NAMES } from '../deploy/contract';
import { tempFolder } from '../support/files';

const { file, path: freshPath } = tempFolder('config');

/** The lines of the ConfigError that loading `opts` throws, sorted. */
const sortedProblems = (opts: LoadOptions): string[] =>
  configErrorOf(() => loadConfig(opts))
    .message.split('\n')
    .sort();

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
        credential: {
          username: 'alice',
          kind: 'password',
          basicUser: 'alice',
          secret: { kind: 'literal', value: 'pw', setting: 'VIDISPINE_PASSWORD' },
        },
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
      sendTimeoutSeconds: 60,
      keepAliveTimeoutSeconds: 75,
      expectContinueTimeoutMs: 1000,
      accessLog: false,
    });
    expect(config.log.level).toBe('info');
    expect(config.shutdown).toEqual({ delaySeconds: 5, drainSeconds: 30 });
  });

  it('reads every variable', () => {
    const pw = file('secret\n');
    const ca = file(rootCertificates[0]);
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
        PROXY_SEND_TIMEOUT_SECONDS: '45',
        PROXY_KEEP_ALIVE_TIMEOUT_SECONDS: '120',
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
      kind: 'password',
      basicUser: 'admin',
      secret: { kind: 'file', path: pw, setting: 'VIDISPINE_ADMIN_PASSWORD_FILE' },
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
      credential: undefined,
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
      sendTimeoutSeconds: 45,
      keepAliveTimeoutSeconds: 120,
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

  it('takes a margin of up to half the lifetime, the most the token store applies', () => {
    const env = { ...ENV, TOKEN_SECONDS: '20', TOKEN_SAFETY_MARGIN_SECONDS: '10' };
    expect(loadConfig({ env }).users[0].token.safetyMarginSeconds).toBe(10);
  });

  it('exits 2 from check for a URL that ends in /API once its trailing slashes are gone', async () => {
    const env = { PATH: process.env.PATH, ...ENV, VIDISPINE_URL: 'http://127.0.0.1:9/API//' };
    const result = await runCli(['check'], { env });
    expect(result.stderr).toContain(
      'VIDISPINE_URL: give the base URL without /API (e.g. http://127.0.0.1:9)',
    );
    expect(result.code).toBe(2);
  });

  it('takes VIDISPINE_MAX_SOCKETS up to 65535', () => {
    const env = { ...ENV, VIDISPINE_MAX_SOCKETS: '65535' };
    expect(loadConfig({ env }).vidispine.maxSockets).toBe(65535);
  });

  it('disables ops with an empty OPS_LISTEN', () => {
    expect(loadConfig({ env: { ...ENV, OPS_LISTEN: '' } }).ops.listen).toBeNull();
  });

  // A word, like a boolean's: a log level is read in any case, as `true`/`false` are.
  it.each(['DEBUG', 'Debug', 'debug'])('takes LOG_LEVEL=%s as debug', (word) => {
    expect(loadConfig({ env: { ...ENV, LOG_LEVEL: word } }).log.level).toBe('debug');
    const path = file(YAML_BASE + `log: { level: ${word} }\n`);
    expect(loadConfig({ file: path, env: {} }).log.level).toBe('debug');
    expect(loadConfig({ file: file(YAML_BASE), env: { LOG_LEVEL: word } }).log.level).toBe('debug');
  });

  // A word, like a boolean's: `off` is read in any case, as `true`/`false` are.
  it.each(['off', 'OFF', 'Off'])('disables ops with OPS_LISTEN=%s', (word) => {
    expect(loadConfig({ env: { ...ENV, OPS_LISTEN: word } }).ops.listen).toBeNull();
  });

  it.each([
    [{ VIDISPINE_URL: undefined }, 'VIDISPINE_URL: required'],
    [{ VIDISPINE_USER: undefined }, 'VIDISPINE_USER: required'],
    [
      { VIDISPINE_URL: 'ftp://x' },
      'VIDISPINE_URL: "ftp://x" is not an http:// or https:// URL (e.g. http://x)',
    ],
    [
      { VIDISPINE_URL: 'vidispine:8080' },
      'VIDISPINE_URL: "vidispine:8080" is not an http:// or https:// URL (e.g. http://vidispine:8080)',
    ],
    [{ VIDISPINE_URL: 'http://x/?a=1' }, 'VIDISPINE_URL: must not have a query string or fragment'],
    [{ VIDISPINE_URL: 'http://x#f' }, 'VIDISPINE_URL: must not have a query string or fragment'],
    [
      { VIDISPINE_URL: 'http://x:0' },
      "VIDISPINE_URL: port 0 is no server's port: give the port VidiCore listens on (e.g. http://x:8080)",
    ],
    [
      { VIDISPINE_URL: 'https://[::1]:00/vs' },
      "VIDISPINE_URL: port 0 is no server's port: give the port VidiCore listens on (e.g. https://[::1]:8080/vs)",
    ],
    [
      { VIDISPINE_URL: 'http://x:8080/API' },
      'VIDISPINE_URL: give the base URL without /API (e.g. http://x:8080)',
    ],
    // The path the proxy would use, once its trailing slashes and dot segments are gone.
    [
      { VIDISPINE_URL: 'http://x:8080/API//' },
      'VIDISPINE_URL: give the base URL without /API (e.g. http://x:8080)',
    ],
    [
      { VIDISPINE_URL: 'http://x:8080/vs/API/./' },
      'VIDISPINE_URL: give the base URL without /API (e.g. http://x:8080/vs)',
    ],
    // A letter escaped is the letter to the server: mints at …/%41PI/API/… would reach /API/API/.
    [
      { VIDISPINE_URL: 'http://x:8080/vs/%41p%49/' },
      'VIDISPINE_URL: give the base URL without /API (e.g. http://x:8080/vs)',
    ],
    [
      { VIDISPINE_URL: 'http://u:p@x' },
      'VIDISPINE_URL: must not contain credentials; give the password in VIDISPINE_PASSWORD or VIDISPINE_PASSWORD_FILE',
    ],
    [
      { VIDISPINE_URL: 'not a url' },
      'VIDISPINE_URL: the value is not a URL (e.g. http://vidispine:8080); it does not look like one either (is it the secret itself? it is not shown)',
    ],
    [
      { PROXY_LISTEN: '8080' },
      'PROXY_LISTEN: 8080 is a port alone: write host:port, 127.0.0.1:8080 (local connections only) or [::]:8080 (every address, IPv6 and IPv4)',
    ],
    [
      { PROXY_LISTEN: '127.0.0.1' },
      'PROXY_LISTEN: "127.0.0.1" is not host:port (e.g. 127.0.0.1:8080)',
    ],
    [
      { PROXY_LISTEN: '::1:8080' },
      'PROXY_LISTEN: "::1:8080" is not host:port (put an IPv6 address in brackets, e.g. [::1]:8080)',
    ],
    [{ PROXY_LISTEN: '127.0.0.1:70000' }, 'PROXY_LISTEN: port 70000 is out of range 0-65535'],
    [{ PROXY_LISTEN: '[nonsense]:80' }, 'PROXY_LISTEN: "nonsense" is not an IPv6 address'],
    [
      { OPS_LISTEN: '127.0.0.1:8080', PROXY_LISTEN: '127.0.0.1:8080' },
      'OPS_LISTEN: address already used by PROXY_LISTEN',
    ],
    [
      // PROXY_LISTEN left to its default: the key set is named, and the way to move the other.
      { OPS_LISTEN: '127.0.0.1:8080' },
      "OPS_LISTEN: 127.0.0.1:8080 overlaps the data listener's default address, 127.0.0.1:8080 (PROXY_LISTEN): choose another port, or set PROXY_LISTEN",
    ],
    [{ TOKEN_SECONDS: '0' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: '1.5' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: 'sixty' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: '0x3c' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: '6e1' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: '+60' }, 'TOKEN_SECONDS: must be a positive integer'],
    // An integer key takes digits: `60.0` reads as a fraction the key cannot hold.
    [{ TOKEN_SECONDS: '60.0' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ TOKEN_SECONDS: '60.' }, 'TOKEN_SECONDS: must be a positive integer'],
    [{ VIDISPINE_MAX_SOCKETS: '256.0' }, 'VIDISPINE_MAX_SOCKETS: must be a positive integer'],
    [
      { VIDISPINE_MAX_SOCKETS: '1000000000000' },
      'VIDISPINE_MAX_SOCKETS: must be at most 65535 (each connection to Vidispine takes one of the 65535 local ports of an address)',
    ],
    [
      { VIDISPINE_MAX_SOCKETS: '65536' },
      'VIDISPINE_MAX_SOCKETS: must be at most 65535 (each connection to Vidispine takes one of the 65535 local ports of an address)',
    ],
    [{ PROXY_REPLAY_BUFFER_BYTES: '1024.0' }, 'PROXY_REPLAY_BUFFER_BYTES: must be an integer ≥ 0'],
    [
      { PROXY_REPLAY_BUFFER_TOTAL_BYTES: '16777216.0' },
      'PROXY_REPLAY_BUFFER_TOTAL_BYTES: must be an integer ≥ 0',
    ],
    [
      { PROXY_EXPECT_CONTINUE_TIMEOUT_MS: '1000.0' },
      'PROXY_EXPECT_CONTINUE_TIMEOUT_MS: must be an integer ≥ 0',
    ],
    [
      { TOKEN_AUTO_REFRESH: 'maybe' },
      'TOKEN_AUTO_REFRESH: must be true, false, 1, 0, yes or no (in any case)',
    ],
    [{ ACCESS_LOG: 'on' }, 'ACCESS_LOG: must be true, false, 1, 0, yes or no (in any case)'],
    [
      { TOKEN_SAFETY_MARGIN_SECONDS: '30.5' },
      'TOKEN_SAFETY_MARGIN_SECONDS: must be at most half the token lifetime (30 s of 60 s)',
    ],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (in any case)',
    ],
    [
      { VIDISPINE_PASSWORD: undefined },
      'VIDISPINE_USER: user "alice" has no password or access key: set VIDISPINE_PASSWORD, VIDISPINE_PASSWORD_FILE or VIDISPINE_ACCESS_KEY_ID, or VIDISPINE_ADMIN_USER or VIDISPINE_RUNAS_USER (an account that mints its tokens)',
    ],
    [{ VIDISPINE_PASSWORD: '' }, 'VIDISPINE_PASSWORD: the value is empty'],
    [
      { VIDISPINE_PASSWORD_FILE: '/nonexistent/pw' },
      'VIDISPINE_PASSWORD_FILE: give only one source for the secret, not VIDISPINE_PASSWORD and VIDISPINE_PASSWORD_FILE',
    ],
    [
      { VIDISPINE_PASSWORD: undefined, VIDISPINE_PASSWORD_FILE: '/nonexistent/pw' },
      'VIDISPINE_PASSWORD_FILE: cannot read file /nonexistent/pw (ENOENT)',
    ],
    [
      {
        TOKEN_SECONDS: 'soon',
        VIDISPINE_PASSWORD: undefined,
        VIDISPINE_PASSWORD_FILE: '/nonexistent/pw',
        VIDISPINE_CA_FILE: '/nonexistent/ca.pem',
      },
      'TOKEN_SECONDS: must be a positive integer\nVIDISPINE_PASSWORD_FILE: cannot read file /nonexistent/pw (ENOENT)\nVIDISPINE_CA_FILE: cannot read file /nonexistent/ca.pem (ENOENT)',
    ],
    [
      { VIDISPINE_ADMIN_USER: 'admin', VIDISPINE_PASSWORD: undefined },
      'VIDISPINE_ADMIN_USER: the account "admin" has no password or access key: set VIDISPINE_ADMIN_PASSWORD, VIDISPINE_ADMIN_PASSWORD_FILE or VIDISPINE_ADMIN_ACCESS_KEY_ID',
    ],
    [
      { VIDISPINE_PASWORD: 'x' },
      'VIDISPINE_PASWORD: unknown variable; did you mean VIDISPINE_PASSWORD?',
    ],
    [{ TOKEN_SECOND: '5' }, 'TOKEN_SECOND: unknown variable; did you mean TOKEN_SECONDS?'],
    [{ log_level: 'debug' }, 'log_level: unknown variable; did you mean LOG_LEVEL?'],
    [{ VIDISPINE_ADMIN_PASSWORD: 'x' }, 'VIDISPINE_ADMIN_USER: required'],
    [
      { VIDISPINE_CA_FILE: '/nonexistent/ca.pem' },
      'VIDISPINE_CA_FILE: cannot read file /nonexistent/ca.pem (ENOENT)',
    ],
    // Past 2^53 an integer is no longer exact: one message, the bound's, not "an integer" too.
    [
      { TOKEN_SECONDS: '99999999999999999999' },
      "TOKEN_SECONDS: must be at most 2147483647 (Vidispine's limit)",
    ],
    [{ TOKEN_SECONDS: '-99999999999999999999' }, 'TOKEN_SECONDS: must be a positive integer'],
    [
      { VIDISPINE_MAX_SOCKETS: '99999999999999999999' },
      'VIDISPINE_MAX_SOCKETS: must be at most 65535 (each connection to Vidispine takes one of the 65535 local ports of an address)',
    ],
    [
      { PROXY_EXPECT_CONTINUE_TIMEOUT_MS: '99999999999999999999' },
      'PROXY_EXPECT_CONTINUE_TIMEOUT_MS: must be an integer from 0 to 60000 (ms)',
    ],
    [
      { PROXY_EXPECT_CONTINUE_TIMEOUT_MS: '-99999999999999999999' },
      'PROXY_EXPECT_CONTINUE_TIMEOUT_MS: must be an integer ≥ 0',
    ],
    [
      { PROXY_REPLAY_BUFFER_BYTES: '99999999999999999999', PROXY_REPLAY_BUFFER_TOTAL_BYTES: '0' },
      'PROXY_REPLAY_BUFFER_BYTES: must be at most 67108864 (64 MiB: each body held for replay sits in memory; a larger one is replayed without being held, through Expect: 100-continue)',
    ],
    // A body held for replay sits in memory: a size far past what the buffer is for is a typo.
    [
      { PROXY_REPLAY_BUFFER_BYTES: '1000000000000', PROXY_REPLAY_BUFFER_TOTAL_BYTES: '0' },
      'PROXY_REPLAY_BUFFER_BYTES: must be at most 67108864 (64 MiB: each body held for replay sits in memory; a larger one is replayed without being held, through Expect: 100-continue)',
    ],
    [
      { PROXY_REPLAY_BUFFER_BYTES: '67108865', PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1073741824' },
      'PROXY_REPLAY_BUFFER_BYTES: must be at most 67108864 (64 MiB: each body held for replay sits in memory; a larger one is replayed without being held, through Expect: 100-continue)',
    ],
    [
      { PROXY_REPLAY_BUFFER_TOTAL_BYTES: '9007199254740991' },
      "PROXY_REPLAY_BUFFER_TOTAL_BYTES: must be at most 1073741824 (1 GiB: the bodies held for replay sit in the proxy's memory, which the injected sidecar limits to 192 MiB by default)",
    ],
    [
      { PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1073741825' },
      "PROXY_REPLAY_BUFFER_TOTAL_BYTES: must be at most 1073741824 (1 GiB: the bodies held for replay sit in the proxy's memory, which the injected sidecar limits to 192 MiB by default)",
    ],
    [
      { PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1000' },
      'PROXY_REPLAY_BUFFER_TOTAL_BYTES: 1000 is below PROXY_REPLAY_BUFFER_BYTES (1048576), so no body above 1000 bytes could be held for replay: give at least 1048576, or lower PROXY_REPLAY_BUFFER_BYTES too (0 in either holds none)',
    ],
  ])('rejects %j', async (change, message) => {
    const env: NodeJS.ProcessEnv = { ...ENV, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete env[k];
    expect((await checkedConfigErrorOf({ env })).message).toBe(message);
  });

  // Control characters, format characters and line breaks: what a terminal would act on or hide.
  const UNSHOWN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
  const x200 = 'x'.repeat(191);
  it.each<[string, Record<string, string | undefined>, string]>([
    [
      'a huge URL, quoted and offered back',
      { VIDISPINE_URL: `vidispine${'x'.repeat(100_000)}:8080` },
      `VIDISPINE_URL: "vidispine${x200}…" is not an http:// or https:// URL (e.g. http://vidispine${'x'.repeat(184)}…)`,
    ],
    [
      'a URL with a terminal escape and a bidi override',
      { VIDISPINE_URL: 'http//not a url\x1b[2J\u202e' },
      'VIDISPINE_URL: "http//not a url?[2J?" is not a URL (e.g. http://vidispine:8080)',
    ],
    [
      'a listen address with a terminal title sequence',
      { PROXY_LISTEN: `\x1b]0;owned\x07${'h'.repeat(100_000)}` },
      // Not an address's characters: not quoted at all, as a password in its place.
      'PROXY_LISTEN: the value is not host:port (e.g. 127.0.0.1:8080); it does not look like one either (is it the secret itself? it is not shown)',
    ],
    [
      'a port of 100,000 digits',
      { PROXY_LISTEN: `127.0.0.1:${'9'.repeat(100_000)}` },
      `PROXY_LISTEN: port ${'9'.repeat(200)}… is out of range 0-65535`,
    ],
    [
      'a password file path of 3,000 characters ending in an escape',
      {
        VIDISPINE_PASSWORD: undefined,
        VIDISPINE_PASSWORD_FILE: `/nonexistent/${'p'.repeat(3000)}\x1b[2J`,
      },
      `VIDISPINE_PASSWORD_FILE: cannot read file /nonexistent/${'p'.repeat(187)}… (ENOENT)`,
    ],
    [
      'a CA file path with a line break',
      { VIDISPINE_CA_FILE: `/nonexistent/ca.pem\n${'c'.repeat(3000)}` },
      `VIDISPINE_CA_FILE: cannot read file /nonexistent/ca.pem?${'c'.repeat(180)}… (ENOENT)`,
    ],
    [
      'a user name with a bidi override',
      { VIDISPINE_USER: `${'a'.repeat(250)}\u202e`, VIDISPINE_PASSWORD: undefined },
      `VIDISPINE_USER: user "${'a'.repeat(200)}…" has no password or access key`,
    ],
  ])('exits 2 quoting %s in part, as text', async (_what, change, line) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...ENV, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete env[k];
    const result = await runCli(['check'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(line);
    expect(result.stderr.replace(/\n/g, '')).not.toMatch(UNSHOWN);
    expect(result.stderr.length).toBeLessThan(1000);
  });

  it.each([
    [{ PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1048576' }, 1048576],
    [{ PROXY_REPLAY_BUFFER_TOTAL_BYTES: '0' }, 0],
    [
      { PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1073741824', PROXY_REPLAY_BUFFER_BYTES: '67108864' },
      1073741824,
    ],
    [{ PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1000', PROXY_REPLAY_BUFFER_BYTES: '0' }, 1000],
    [{ PROXY_REPLAY_BUFFER_TOTAL_BYTES: '1000', PROXY_REPLAY_BUFFER_BYTES: '1000' }, 1000],
  ])('takes a replay total of at least one body, or 0: %j', (change, total) => {
    expect(loadConfig({ env: { ...ENV, ...change } }).proxy.replayBufferTotalBytes).toBe(total);
  });

  it.each([
    ['TRUE', true],
    [' Yes ', true],
    ['1', true],
    ['False', false],
    ['no', false],
    ['0', false],
  ])('takes the boolean %j', (text, value) => {
    const config = loadConfig({ env: { ...ENV, ACCESS_LOG: text, ALLOW_RUNAS: text } });
    expect([config.proxy.accessLog, config.users[0].allowRunAs]).toEqual([value, value]);
  });

  it('says nothing of the user when the admin credential is what is missing', () => {
    const env: NodeJS.ProcessEnv = { ...ENV, VIDISPINE_ADMIN_USER: 'admin' };
    delete env.VIDISPINE_PASSWORD;
    expect(configErrorOf(() => loadConfig({ env })).issues).toHaveLength(1);
  });

  it("never takes Kubernetes' service variables or unrelated names for typos", () => {
    const env = {
      ...ENV,
      VIDISPINE_PORT: 'tcp://10.0.0.1:8080',
      VIDISPINE_PORT_8080_TCP: 'tcp://10.0.0.1:8080',
      VIDISPINE_PORT_8080_TCP_ADDR: '10.0.0.1',
      VIDISPINE_PORT_8080_TCP_PORT: '8080',
      VIDISPINE_PORT_8080_TCP_PROTO: 'tcp',
      VIDISPINE_SERVICE_HOST: '10.0.0.1',
      VIDISPINE_SERVICE_PORT: '8080',
      VIDISPINE_SERVICE_PORT_HTTP: '8080',
      PROXY_SERVICE_PORT: '80',
      ACCESS_KEY: 'x',
      HOME: '/root',
    };
    expect(loadConfig({ env }).users[0].name).toBe('alice');
  });

  it('never puts a secret value in a message', () => {
    const err = configErrorOf(() =>
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
proxy: { replayBufferBytes: 10, replayBufferTotalBytes: 100, clientBodyTimeoutSeconds: 5, sendTimeoutSeconds: 7, keepAliveTimeoutSeconds: 30, expectContinueTimeoutMs: 5, accessLog: true }
`),
      env: { ADMIN_PW: 'x', VIDISPINE_URL: 'http://ignored' },
    });
    expect(config.vidispine.url.href).toBe('http://vidispine:8080/');
    expect(config.vidispine.admin).toEqual({
      username: 'admin',
      kind: 'password',
      basicUser: 'admin',
      secret: { kind: 'env', name: 'ADMIN_PW', setting: 'vidispine.admin.passwordEnv' },
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
      credential: {
        kind: 'password',
        secret: { kind: 'file', path: pwFile, setting: 'users[0].passwordFile' },
      },
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
      sendTimeoutSeconds: 7,
      keepAliveTimeoutSeconds: 30,
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

  it('refuses an empty LOG_LEVEL beside a file, as it does without one', () => {
    const path = file(YAML_BASE + 'log: { level: warn }\n');
    const problem =
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (in any case)';
    expect(() => loadConfig({ env: { LOG_LEVEL: '' } })).toThrow(problem);
    expect(() => loadConfig({ file: path, env: { LOG_LEVEL: '' } })).toThrow(problem);
  });

  it.each([['LOG_LEVL'], ['log_level'], ['LOGLEVEL']])(
    'refuses %s beside a file as a slip of LOG_LEVEL, the one variable that still applies',
    (variable) => {
      const path = file(YAML_BASE);
      expect(() => loadConfig({ file: path, env: { [variable]: 'debug' } })).toThrow(
        `${variable}: unknown variable; did you mean LOG_LEVEL?`,
      );
      // The variables of an environment-only configuration are not read beside a file.
      expect(loadConfig({ file: path, env: { VIDISPINE_PASWORD: 'x' } }).users[0].name).toBe(
        'alice',
      );
    },
  );

  it.each([
    [YAML_BASE + 'extra: 1\n', 'extra: unknown key'],
    [
      YAML_BASE.replace('listen: 127.0.0.1:8080', 'listen: 127.0.0.1:8080\n    lisen: x'),
      'users[0].lisen: unknown key; did you mean listen?',
    ],
    [YAML_BASE.replace('admin:', 'admn:'), 'vidispine.admn: unknown key; did you mean admin?'],
    [
      YAML_BASE.replace('password: alice-password', 'pasword: alice-password'),
      'users[0].pasword: unknown key; did you mean password?',
    ],
    [YAML_BASE + 'tokn: {}\n', 'tokn: unknown key; did you mean token?'],
    [YAML_BASE + 'colour: blue\n', 'colour: unknown key'],
    [
      YAML_BASE.replace('url: http://vidispine:8080', 'url: vidispine:8080'),
      'vidispine.url: "vidispine:8080" is not an http:// or https:// URL (e.g. http://vidispine:8080)',
    ],
    [
      YAML_BASE.replace('url: http://vidispine:8080', 'url: http://u:p@vidispine:8080'),
      'vidispine.url: must not contain credentials; give the password in users[0].password or users[0].passwordFile',
    ],
    [
      YAML_BASE.replace('password: alice-password', 'password: x\n    passwordFile: /x'),
      'users[0].passwordFile: give only one source for the secret, not users[0].password and users[0].passwordFile',
    ],
    [
      YAML_BASE.replace(
        'admin: { username: admin, password: adminpw }',
        'admin: { username: admin }',
      ),
      'vidispine.admin: the account "admin" has no password or access key: set vidispine.admin.password, vidispine.admin.passwordFile, vidispine.admin.passwordEnv or vidispine.admin.accessKey.id',
    ],
    [
      YAML_BASE + '  - name: bob\n    listen: 127.0.0.1:8080\n',
      'users[1].listen: address already used by users[0]',
    ],
    [
      YAML_BASE + '  - name: bob\n    listen: 0.0.0.0:8080\n',
      'users[1].listen: address already used by users[0]',
    ],
    [
      YAML_BASE + "  - name: bob\n    listen: '[::]:8080'\n",
      'users[1].listen: address already used by users[0]',
    ],
    [
      // the wildcard however it is spelt
      YAML_BASE + "  - name: bob\n    listen: '[0:0::0]:8080'\n",
      'users[1].listen: address already used by users[0]',
    ],
    [
      YAML_BASE.replace('listen: 127.0.0.1:8080', "listen: '[0::1]:8080'") +
        "  - name: bob\n    listen: '[0:0:0:0:0:0:0:1]:8080'\n",
      'users[1].listen: address already used by users[0]',
    ],
    [
      // an IPv4 address written as IPv6 binds the IPv4 address
      YAML_BASE + "  - name: bob\n    listen: '[::ffff:127.0.0.1]:8080'\n",
      'users[1].listen: address already used by users[0]',
    ],
    [
      YAML_BASE + "  - name: bob\n    listen: '[::FFFF:0.0.0.0]:8080'\n",
      'users[1].listen: address already used by users[0]',
    ],
    [
      // a host name in another case is the same host
      YAML_BASE.replace('listen: 127.0.0.1:8080', 'listen: localhost:8080') +
        '  - name: bob\n    listen: LocalHost:8080\n',
      'users[1].listen: address already used by users[0]',
    ],
    [
      // localhost binds a loopback address, IPv4 or IPv6 as the resolver orders them
      YAML_BASE + '  - name: bob\n    listen: localhost:8080\n',
      'users[1].listen: address already used by users[0]',
    ],
    [
      YAML_BASE +
        "  - name: bob\n    listen: localhost:8081\n  - name: carol\n    listen: '[::1]:8081'\n",
      'users[2].listen: address already used by users[1]',
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
      'users[1]: user "bob" has no password or access key: set users[1].password, users[1].passwordFile, users[1].passwordEnv or users[1].accessKey.id, or vidispine.admin or vidispine.runAs (an account that mints its tokens)',
    ],
    [YAML_BASE + 'token: { seconds: -5 }\n', 'token.seconds: must be a positive integer'],
    [YAML_BASE + 'token: { seconds: 30.5 }\n', 'token.seconds: must be a positive integer'],
    [YAML_BASE + 'token: { seconds: "60" }\n', 'token.seconds: must be a positive integer'],
    [
      YAML_BASE.replace(
        'listen: 127.0.0.1:8080',
        'listen: 127.0.0.1:8080\n    token: { safetyMarginSeconds: 70 }',
      ),
      'users[0].token.safetyMarginSeconds: must be at most half the token lifetime (30 s of 60 s)',
    ],
    [
      YAML_BASE +
        '  - { name: bob, password: pw, token: { seconds: 15 } }\n' +
        'token: { safetyMarginSeconds: 10 }\n',
      'users[1].token.seconds: must be at least twice token.safetyMarginSeconds (10 s), which applies to this user too; or give users[1].token.safetyMarginSeconds',
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
      'users[0].password: the value is empty',
    ],
    [
      YAML_BASE.replace('url: http://vidispine:8080', 'url: http://vidispine:8080/?x=1'),
      'vidispine.url: must not have a query string',
    ],
    [YAML_BASE + 'users: []\n', 'line 9, column 1 (users): duplicate key'],
    [
      'vidispine: [\n',
      'line 2, column 1 (vidispine): wrong indentation, or a bracket or quote left open',
    ],
    [
      YAML_BASE.replace('    password: alice-password', '   password: alice-password'),
      'line 7, column 1 (users[0]): a key indented less than the keys above it: line up the keys of a list item with the first one after `- `',
    ],
    [
      YAML_BASE.replace('  admin:', '   admin:'),
      "line 3, column 8 (vidispine.url): a second ': ' after this value: indent the next line like the keys beside it, or quote a value that holds ': '",
    ],
    [
      YAML_BASE.replace('password: alice-password', 'password:'),
      'users[0].password: has no value: write one after the colon, or leave the key out',
    ],
    [YAML_BASE.replace('url: http://vidispine:8080', 'url:'), 'vidispine.url: has no value'],
    ['users:\n  - name: a\n', 'vidispine: required'],
    [
      YAML_BASE.replace('users:', 'users:\n  - 5'),
      'users[0]: must be a block of keys (indented `key: value` lines, or `{ key: value, … }`), not a single value',
    ],
    [
      YAML_BASE.replace('users:', 'users:\n  - [alice]'),
      'users[0]: must be a block of keys (indented `key: value` lines, or `{ key: value, … }`), not a list',
    ],
    [
      YAML_BASE.replace('admin: { username: admin, password: adminpw }', 'admin: adminpw'),
      'vidispine.admin: must be a block of keys (indented `key: value` lines, or `{ key: value, … }`), not a single value',
    ],
    [
      YAML_BASE.replace('password: alice-password', 'accessKey: VSID2C56CQTA7DWW7DLF'),
      'users[0].accessKey: must be a block of keys',
    ],
    [
      YAML_BASE.replace(/users:[^]*/, 'users: { name: alice }\n'),
      'users: must be a list (lines starting with `- `, or `[ … ]`), not a block of keys',
    ],
    [
      YAML_BASE.replace(/users:[^]*/, 'users: alice\n'),
      'users: must be a list (lines starting with `- `, or `[ … ]`), not a single value',
    ],
    [YAML_BASE + 'log: { level: chatty }\n', 'log.level: must be one of'],
    [
      YAML_BASE + 'ops: { listen: 9090 }\n',
      'ops.listen: 9090 is a port alone: write host:port, 127.0.0.1:9090 (local connections only) or [::]:9090 (every address, IPv6 and IPv4); or off to disable it',
    ],
    [
      YAML_BASE + 'ops: { listen: "localhost" }\n',
      'ops.listen: must be host:port, or "off" to disable',
    ],
    [
      YAML_BASE.replace(
        'listen: 127.0.0.1:8080',
        'listen: 127.0.0.1:8080\n    selectUserHeader: "bad header"',
      ),
      'users[0].selectUserHeader: must be an HTTP header name',
    ],
    [
      YAML_BASE + '  - { name: bob, password: pw, selectUserHeader: X-User }\n',
      "users[1].selectUserHeader: needs users[1].listen: the header is read on this user's own listener, and it has none",
    ],
    [
      YAML_BASE + '  - { name: bob, password: pw, allowRunAs: true }\n',
      "users[1].allowRunAs: no request can act as this user: give it users[1].listen, or give another user's listener a selectUserHeader that may pick it",
    ],
  ])('rejects case %#', async (yaml, message) => {
    expect((await checkedConfigErrorOf({ file: file(yaml), env: {} })).message).toContain(message);
  });

  it('names an integer past 2^53 once, by its bound', async () => {
    const yaml = YAML_BASE + 'token: { seconds: 99999999999999999999 }\n';
    expect((await checkedConfigErrorOf({ file: file(yaml), env: {} })).message).toBe(
      "token.seconds: must be at most 2147483647 (Vidispine's limit)",
    );
  });

  it('says a slip once, though the YAML reader reports it twice at one place', () => {
    const yaml = YAML_BASE.replace('    password: alice-password', '     password: alice-password');
    const { message } = configErrorOf(() => loadConfig({ file: file(yaml), env: {} }));
    expect(message.trim().split('\n')).toEqual([
      expect.stringMatching(
        /line 6, column 11 \(users\[0\]\.name\): a second ': ' after this value/,
      ),
    ]);
  });

  it.each([
    'host',
    'Host',
    'content-length',
    'transfer-encoding',
    'authorization',
    'proxy-authorization',
    'runas',
    'connection',
    'expect',
    'upgrade',
    'te',
    'trailer',
    'keep-alive',
    'proxy-connection',
    'cookie',
    'x-request-id',
    'sec-websocket-key',
  ])('refuses selectUserHeader: %s, a header with a meaning of its own', (header) => {
    const yaml = YAML_BASE.replace(
      'listen: 127.0.0.1:8080',
      `listen: 127.0.0.1:8080\n    selectUserHeader: ${header}`,
    );
    const message = configErrorOf(() => loadConfig({ file: file(yaml), env: {} })).message;
    expect(message).toMatch(
      new RegExp(
        `^users\\[0\\]\\.selectUserHeader: cannot be ${header}: .+, while a select header is read as a user name and never passed on; use a header of its own \\(e\\.g\\. X-Vidispine-User\\)$`,
      ),
    );
  });

  it.each([
    ['"true"', 'must be true or false (without quotes)'],
    ["' false '", 'must be true or false (without quotes)'],
    ['yes', 'must be true or false'],
    ['1', 'must be true or false'],
  ])('refuses accessLog: %s, which YAML reads as no boolean', (written, problem) => {
    const yaml = `${YAML_BASE}proxy: { accessLog: ${written} }\n`;
    const message = configErrorOf(() => loadConfig({ file: file(yaml), env: {} })).message;
    expect(message).toBe(`proxy.accessLog: ${problem}`);
  });

  it('exits 2 from check naming what a boolean may be, in the words of its source', async () => {
    const env = { PATH: process.env.PATH, ...ENV, ACCESS_LOG: 'enabled' };
    const fromEnv = await runCli(['check'], { env });
    expect(fromEnv.stderr).toContain(
      'ACCESS_LOG: must be true, false, 1, 0, yes or no (in any case)',
    );
    expect(fromEnv.code).toBe(2);
    const config = file(
      YAML_BASE.replace('listen: 127.0.0.1:8080', 'listen: 127.0.0.1:0\n    allowRunAs: "true"'),
    );
    const fromFile = await runCli(['check', '--config', config], {
      env: { PATH: process.env.PATH },
    });
    expect(fromFile.stderr).toContain(
      'users[0].allowRunAs: must be true or false (without quotes)',
    );
    expect(fromFile.code).toBe(2);
  });

  it('exits 2 naming a place deep in the file by a key path cut in the middle', async () => {
    // 812 lists nested in users, and a value YAML cannot start at the bottom.
    const config = file(
      `vidispine: { url: http://vidispine:8080 }\nusers:\n${'- '.repeat(812)}@x\n`,
    );
    const result = await runCli(['check', '--config', config], { env: { PATH: process.env.PATH } });
    expect(result.code).toBe(2);
    const shown = `users${'[0]'.repeat(21)}[0…${'[0]'.repeat(23)}`;
    expect(result.stderr).toContain(`${config}: line 3, column 1625 (${shown}): a plain value`);
    expect(result.stderr.length).toBeLessThan(600);
  });

  it('exits 2 from check for a select header the proxy reads itself', async () => {
    const config = file(
      YAML_BASE.replace(
        'listen: 127.0.0.1:8080',
        'listen: 127.0.0.1:0\n    selectUserHeader: host',
      ),
    );
    const result = await runCli(['check', '--config', config], { env: { PATH: process.env.PATH } });
    expect(result.stderr).toContain(
      'users[0].selectUserHeader: cannot be host: the proxy reads it to frame or route the request and sets its own upstream',
    );
    expect(result.code).toBe(2);
  });

  it('takes allowRunAs on a user that only a select header picks, and allowRunAs: false anywhere', () => {
    const yaml = YAML_BASE.replace(
      'listen: 127.0.0.1:8080',
      'listen: 127.0.0.1:8080\n    selectUserHeader: X-User',
    );
    const config = loadConfig({
      file: file(
        yaml +
          '  - { name: bob, password: pw, allowRunAs: true }\n' +
          '  - { name: carol, password: pw, allowRunAs: false }\n',
      ),
      env: {},
    });
    expect(config.users.map((u) => [u.name, u.allowRunAs])).toEqual([
      ['alice', false],
      ['bob', true],
      ['carol', false],
    ]);
  });

  it('takes a block or list with nothing under it as left out', () => {
    const empty = loadConfig({
      file: file(
        YAML_BASE.replace('    listen:', '    token:\n    listen:') +
          'token:\nops:\nlog:\nproxy:\n',
      ),
      env: {},
    });
    expect(empty).toEqual(loadConfig({ file: file(YAML_BASE), env: {} }));
    const noAdmin = YAML_BASE.replace('admin: { username: admin, password: adminpw }', 'admin:');
    expect(loadConfig({ file: file(noAdmin), env: {} }).vidispine.admin).toBeUndefined();
    expect(
      configErrorOf(() => loadConfig({ file: file('vidispine:\nusers:\n'), env: {} })).message,
    ).toBe('vidispine: required\nusers: required');
  });

  it('merges YAML merge keys (<<) instead of calling them unknown', () => {
    const config = loadConfig({
      file: file(`
vidispine: { url: http://vidispine:8080 }
users:
  - &alice
    name: alice
    password: alice-password
    listen: 127.0.0.1:8080
    token: { seconds: 120 }
  - <<: *alice
    name: bob
    listen: 127.0.0.1:8081
`),
      env: {},
    });
    expect(config.users.map((u) => [u.name, u.listen?.port, u.token.seconds])).toEqual([
      ['alice', 8080, 120],
      ['bob', 8081, 120],
    ]);
    expect(config.users[1].credential).toMatchObject({ kind: 'password', basicUser: 'bob' });
  });

  it('reports every problem at once, one per line', () => {
    const err = configErrorOf(() =>
      loadConfig({ file: file(YAML_BASE + 'extra: 1\ntoken: { seconds: 0 }\n'), env: {} }),
    );
    expect(err.issues.map((i) => i.key).sort()).toEqual(['extra', 'token.seconds']);
    expect(err.message.split('\n')).toHaveLength(2);
  });

  it('fails with --config naming an unreadable file', () => {
    expect(
      configErrorOf(() => loadConfig({ file: '/nonexistent/config.yaml', env: {} })).message,
    ).toBe('--config: cannot read /nonexistent/config.yaml (ENOENT)');
  });

  it.each([
    [
      'a directory',
      (path: string) => mkdirSync(path),
      'file PATH is not a regular file (a FIFO, device or directory is never read)',
    ],
    [
      'a dangling symbolic link',
      (path: string) => symlinkSync(`${path}-gone`, path),
      'cannot read file PATH (ENOENT)',
    ],
  ])('rejects a secret file that is %s', async (_, make, problem) => {
    const pw = freshPath('unreadable');
    make(pw);
    const yaml = YAML_BASE.replace('password: alice-password', `passwordFile: ${pw}`);
    const { message } = await checkedConfigErrorOf({ file: file(yaml), env: {} });
    expect(message).toBe(`users[0].passwordFile: ${problem.replace('PATH', pw)}`);
  });

  it('never shows a secret given where a file or a variable should be named, exiting 2', async () => {
    const secret = 's3cr3t-Pa55word!';
    const result = await runCli(['check'], {
      env: {
        PATH: process.env.PATH,
        VIDISPINE_URL: 'http://127.0.0.1:1',
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD_FILE: secret,
      },
    });
    expect(result.stderr).toContain(
      'VIDISPINE_PASSWORD_FILE: cannot read the file named (ENOENT); the value does not look like a file path (is it the secret itself? it is not shown)',
    );
    expect(result.stdout + result.stderr).not.toContain(secret);
    expect(result.code).toBe(2);
    const yaml = YAML_BASE.replace('password: alice-password', `passwordEnv: "${secret}"`);
    expect(configErrorOf(() => loadConfig({ file: file(yaml), env: {} })).message).toBe(
      'users[0].passwordEnv: the variable named is not set; the value does not look like a variable name (is it the secret itself? it is not shown)',
    );
  });

  it('rejects a secret file it may not read, exiting 2', async () => {
    // Root reads any file: as root, the CLI runs without the capabilities that allow it.
    const pw = freshPath('unreadable');
    writeFileSync(pw, 'x', { mode: 0o000 });
    const result = await runCli(['check'], {
      env: {
        PATH: process.env.PATH,
        VIDISPINE_URL: 'http://127.0.0.1:1',
        VIDISPINE_USER: 'alice',
        VIDISPINE_PASSWORD_FILE: pw,
      },
      withoutReadOverride: true,
    });
    expect(result.stderr).toContain(`VIDISPINE_PASSWORD_FILE: cannot read file ${pw} (EACCES)`);
    expect(result.code).toBe(2);
  });
});

it('a top-level margin above half the lifetime is named once, however many users it applies to', () => {
  const yaml = `
vidispine: { url: http://vidispine:8080 }
token: { seconds: 60, safetyMarginSeconds: 40 }
users:
  - { name: alice, password: x, listen: 127.0.0.1:8080 }
  - { name: bob, password: y, listen: 127.0.0.1:8081 }
  - { name: carol, password: z, listen: 127.0.0.1:8082 }
`;
  const lines = configErrorOf(() => loadConfig({ file: file(yaml), env: {} })).message.split('\n');
  expect(lines).toEqual([
    'token.safetyMarginSeconds: must be at most half the token lifetime (30 s of 60 s)',
  ]);
});

describe('listeners on one port that the kernel keeps apart', () => {
  // IPv4's wildcard and one IPv6 address are two sockets, bound side by side; the IPv6
  // wildcard takes IPv4 too, so it does clash with any IPv4 address.
  const bindBoth = async (first: string, second: string): Promise<string> => {
    const a = createServer();
    await new Promise<void>((resolve) => a.listen(0, first, resolve));
    const { port } = a.address() as AddressInfo;
    const b = createServer();
    try {
      return await new Promise<string>((resolve) => {
        b.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        b.listen(port, second, () => resolve('bound'));
      });
    } finally {
      b.close();
      a.close();
    }
  };

  it('0.0.0.0 and ::1: both bind, and the configuration is taken', async () => {
    expect(await bindBoth('0.0.0.0', '::1')).toBe('bound');
    const config = loadConfig({
      file: file(YAML_BASE.replace('listen: 127.0.0.1:8080', "listen: '[::1]:9090'")),
      env: {},
    });
    expect(config.users[0]?.listen).toEqual({ host: '::1', port: 9090 });
    expect(config.ops.listen).toEqual({ host: '0.0.0.0', port: 9090 });
  });

  // The resolver reads these as IPv4 numbers (inet_aton), so each binds 127.0.0.1, or for
  // `0` the wildcard 0.0.0.0: a clash the kernel refuses at bind (exit 1) unless named first.
  it.each(['127.1', '127.0.0.01', '0x7f000001', '0177.0.0.1', '0'])(
    '%s and 127.0.0.1 clash, and check exits 2 naming the key',
    async (spelling) => {
      expect(await bindBoth(spelling, '127.0.0.1')).toBe('EADDRINUSE');
      const env = {
        PATH: process.env.PATH,
        ...ENV,
        PROXY_LISTEN: `${spelling}:9191`,
        OPS_LISTEN: '127.0.0.1:9191',
      };
      const result = await runCli(['check'], { env });
      expect(result.stderr).toContain('OPS_LISTEN: address already used by PROXY_LISTEN');
      expect(result.code).toBe(2);
    },
  );

  it('the IPv6 wildcard and an IPv4 address still clash', async () => {
    expect(await bindBoth('::', '127.0.0.1')).toBe('EADDRINUSE');
    expect(
      configErrorOf(() =>
        loadConfig({
          file: file(YAML_BASE + 'ops: { listen: "[::]:8080" }\n'),
          env: {},
        }),
      ).message,
    ).toContain('ops.listen: address already used by users[0].listen');
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
    expect(config.users[0].credential?.secret).toEqual({
      kind: 'env',
      name: 'PW',
      setting: 'users[0].passwordEnv',
    });
    expect(() => configFromObject({ users: [] }, {})).toThrow('vidispine: required');
  });
});

describe('empty variables', () => {
  const variables = describedKeys(fileSchema).flatMap((k) => (k.env === undefined ? [] : [k.env]));
  /** What a variable is read beside: the account or key ID its credential belongs to. */
  const companions = (name: string): Record<string, string> => {
    const group = /^VIDISPINE_(ADMIN|RUNAS)_/.exec(name)?.[1];
    const id = name.includes('ACCESS_KEY_SECRET') ? 'VSID2C56CQTA7DWW7DLF' : undefined;
    return {
      ...(group === undefined ? {} : { [`VIDISPINE_${group}_USER`]: 'account' }),
      ...(id === undefined ? {} : { [name.replace(/_SECRET(_FILE)?$/, '_ID')]: id }),
    };
  };
  const OWN_MEANING = ['OPS_LISTEN', 'CONFIG_FILE'];

  it.each(variables.filter((v) => !OWN_MEANING.includes(v)))(
    '%s= is refused, naming the variable',
    (name) => {
      const env: Record<string, string> = { ...ENV, ...companions(name), [name]: '' };
      // The user's own key stands in for the password, not beside it.
      if (name.startsWith('VIDISPINE_ACCESS_KEY')) delete env.VIDISPINE_PASSWORD;
      const err = configErrorOf(() => loadConfig({ env }));
      expect(err.issues.map((i) => i.key)).toContain(name);
    },
  );

  it('OPS_LISTEN= turns the ops listener off; CONFIG_FILE= is no file', () => {
    expect(variables).toContain('OPS_LISTEN');
    expect(loadConfig({ env: { ...ENV, OPS_LISTEN: '' } }).ops.listen).toBeNull();
    expect(loadConfig({ env: { ...ENV, CONFIG_FILE: '' } })).toEqual(loadConfig({ env: ENV }));
  });

  it('beside a file only LOG_LEVEL is read: LOG_LEVEL= is refused, the others ignored', () => {
    const path = file(YAML_BASE);
    const env: Record<string, string> = Object.fromEntries(variables.map((v) => [v, '']));
    expect(configErrorOf(() => loadConfig({ file: path, env })).issues).toEqual([
      { key: 'LOG_LEVEL', problem: expect.stringContaining('must be one of') },
    ]);
    delete env.LOG_LEVEL;
    expect(loadConfig({ file: path, env })).toEqual(loadConfig({ file: path, env: {} }));
  });
});

describe('space around a variable’s value', () => {
  /** Stray space as a `.env` file, a Helm template or a `|` block leaves it. */
  const PADDINGS = [' ', '\t', '\n', '\r\n', ' \n'];
  /** The variables whose value is a secret: a space there may be part of it. */
  const SECRETS = SECRET_ENV_NAMES;
  const SAMPLE: Readonly<Record<string, string>> = {
    string: 'x',
    number: '2.5',
    integer: '60',
    boolean: 'true',
  };
  const variablesOf = (schema: z.ZodType) =>
    describedKeys(schema).flatMap((k) => (k.env === undefined ? [] : [[k.env, k.kind]]));

  it.each([
    ['the proxy', fileSchema],
    ['the injection webhook', injectorSchema],
  ] as const)('%s trims every variable but a secret, to the same value', (_program, schema) => {
    const mapping = environmentMapping(schema, () => ({}));
    const variables = variablesOf(schema);
    expect(variables.length).toBeGreaterThan(10);
    for (const [name, kind] of variables) {
      if (SECRETS.includes(name)) continue;
      const bare = mapping.fromEnv({ [name]: SAMPLE[kind] });
      for (const pad of PADDINGS) {
        const padded = mapping.fromEnv({ [name]: `${pad}${SAMPLE[kind]}${pad}` });
        expect({ name, pad, raw: padded.raw, issues: padded.issues }).toEqual({
          name,
          pad,
          raw: bare.raw,
          issues: bare.issues,
        });
      }
    }
  });

  it.each(SECRETS)('%s keeps the space around it', (name) => {
    const value = ' pass word \n';
    const raw = proxyEnvironment.fromEnv({ [name]: value }).raw;
    expect(JSON.stringify(raw)).toContain(JSON.stringify(value));
  });

  it("a user's password keeps its space through to the credential", () => {
    const env = { ...ENV, VIDISPINE_PASSWORD: ' pw\n' };
    const { credential } = loadConfig({ env }).users[0];
    expect(credential).toMatchObject({ secret: { kind: 'literal', value: ' pw\n' } });
    // What is sent: the space kept, the trailing line end dropped as from a file.
    const secret = credential?.secret;
    if (secret?.kind !== 'literal') throw new Error('expected a literal secret');
    expect(readSecretNow(secret, env).toString()).toBe(' pw');
  });

  it('a password of spaces alone is a password, not an empty value', () => {
    const env = { ...ENV, VIDISPINE_PASSWORD: '  ' };
    expect(loadConfig({ env }).users[0].credential).toMatchObject({
      secret: { kind: 'literal', value: '  ' },
    });
  });

  it('a configuration written with stray space loads as without it', () => {
    const values = {
      VIDISPINE_URL: 'http://vidispine:8080',
      VIDISPINE_USER: 'alice',
      PROXY_LISTEN: '127.0.0.1:8081',
      TOKEN_SECONDS: '120',
      TOKEN_AUTO_REFRESH: 'true',
      VIDISPINE_MAX_SOCKETS: '64',
      VIDISPINE_MINT_TIMEOUT_SECONDS: '2.5',
      LOG_LEVEL: 'debug',
      OPS_LISTEN: 'off',
    };
    const padded = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, ` ${v}\n`]));
    expect(loadConfig({ env: { ...padded, VIDISPINE_PASSWORD: 'pw' } })).toEqual(
      loadConfig({ env: { ...values, VIDISPINE_PASSWORD: 'pw' } }),
    );
  });

  it('a space alone is no value: refused as an empty one, OPS_LISTEN off', () => {
    expect(configErrorOf(() => loadConfig({ env: { ...ENV, TOKEN_SECONDS: ' ' } })).message).toBe(
      'TOKEN_SECONDS: must be a positive integer',
    );
    expect(loadConfig({ env: { ...ENV, OPS_LISTEN: ' \n' } }).ops.listen).toBeNull();
  });

  it('CONFIG_FILE and LOG_LEVEL beside a file are trimmed too', () => {
    const path = file(YAML_BASE);
    const config = loadConfig({ env: { CONFIG_FILE: ` ${path}\n`, LOG_LEVEL: 'debug\n' } });
    expect(config).toEqual(loadConfig({ env: { CONFIG_FILE: path, LOG_LEVEL: 'debug' } }));
    expect(config.log.level).toBe('debug');
  });
});

describe('a configuration the schema refuses: the rules across keys judge its sound parts', () => {
  const problemsOf = (yaml: string): string[] => sortedProblems({ file: file(yaml), env: {} });

  it.each([
    [
      // A user whose name is bad stands aside; the others are still judged among themselves.
      'a bad name',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: "a:b", listen: 127.0.0.1:8080 }
  - { name: bob, password: x, listen: 127.0.0.1:8081 }
  - { name: carol, password: y, listen: 127.0.0.1:8081 }
`,
      [
        "users[0].name: must not contain ':' (it ends the user name in Basic credentials), '/' or '\\'",
        'users[2].listen: address already used by users[1].listen',
      ],
    ],
    [
      // "token.secnds" may be the lifetime the margin is judged against.
      'an unknown key in the token block',
      `
vidispine: { url: http://vidispine:8080 }
users: [{ name: alice, password: x, listen: 127.0.0.1:8080 }]
token: { secnds: 200, safetyMarginSeconds: 40 }
`,
      ['token.secnds: unknown key; did you mean seconds?'],
    ],
    [
      // A user's own lifetime, refused: its margin is not judged against the top-level one.
      "a bad lifetime of a user's own",
      `
vidispine: { url: http://vidispine:8080 }
users: [{ name: alice, password: x, listen: 127.0.0.1:8080, token: { seconds: -1, safetyMarginSeconds: 40 } }]
`,
      ['users[0].token.seconds: must be a positive integer'],
    ],
    [
      // Refused, the ops listener's own value does not give way to its default's clash.
      'a bad ops listener beside a data listener on its default port',
      `
vidispine: { url: http://vidispine:8080 }
users: [{ name: alice, password: x, listen: 127.0.0.1:9090 }]
ops: { listen: "localhost" }
`,
      ['ops.listen: must be host:port, or "off" to disable'],
    ],
    [
      'vidispine not a block, and two secret sources',
      `
vidispine: http://vidispine:8080
users: [{ name: alice, password: x, passwordFile: /x, listen: 127.0.0.1:8080 }]
`,
      [
        'users[0].passwordFile: give only one source for the secret, not users[0].password and users[0].passwordFile',
        'vidispine: must be a block of keys (indented `key: value` lines, or `{ key: value, … }`), not a single value',
      ],
    ],
    [
      // Nothing to judge without the users: no "missing user" for a list that is none.
      'users not a list',
      `
vidispine: { url: http://vidispine:8080 }
users: alice
`,
      ['users: must be a list (lines starting with `- `, or `[ … ]`), not a single value'],
    ],
    [
      // Both problems are in the user taken out: neither may take the rest with it.
      'a user without a name and with a bad listener, beside two others on one address',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { password: x, listen: nonsense }
  - { name: bob, password: y, listen: 127.0.0.1:8081 }
  - { name: carol, password: z, listen: 127.0.0.1:8081 }
`,
      [
        'users[0].listen: the value is not host:port (e.g. 127.0.0.1:8080); a single word is not shown, since a password in its place would look the same',
        'users[0].name: required',
        'users[2].listen: address already used by users[1].listen',
      ],
    ],
    [
      'an admin without a name and with bad keys, beside two users on one address',
      `
vidispine:
  url: http://vidispine:8080
  admin: { password: [x], accessKey: { secret: 1 } }
users:
  - { name: bob, password: y, listen: 127.0.0.1:8081 }
  - { name: carol, password: z, listen: 127.0.0.1:8081 }
`,
      [
        'users[1].listen: address already used by users[0].listen',
        'vidispine.admin.accessKey.id: required',
        'vidispine.admin.accessKey.secret: must be a string',
        'vidispine.admin.password: must be a string',
        'vidispine.admin.username: required',
      ],
    ],
    [
      // The select header refused may be the one that picks alice: "no request can act as
      // her" would follow from it.
      "a bad select header another user's allowRunAs relies on",
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x, allowRunAs: true }
  - { name: bob, password: y, listen: 127.0.0.1:8080, selectUserHeader: Host }
`,
      [
        'users[1].selectUserHeader: cannot be Host: the proxy reads it to frame or route the request and sets its own upstream, while a select header is read as a user name and never passed on; use a header of its own (e.g. X-Vidispine-User)',
      ],
    ],
    [
      'a misspelt select header another user relies on',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x, allowRunAs: true }
  - { name: bob, password: y, listen: 127.0.0.1:8080, selectUserHedaer: X-User }
`,
      ['users[1].selectUserHedaer: unknown key; did you mean selectUserHeader?'],
    ],
    [
      'a bad listener whose select header another user relies on',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x, allowRunAs: true }
  - { name: bob, password: y, listen: nonsense, selectUserHeader: X-User }
  - { name: carol, password: z, listen: 127.0.0.1:8081 }
`,
      [
        'users[1].listen: the value is not host:port (e.g. 127.0.0.1:8080); a single word is not shown, since a password in its place would look the same',
      ],
    ],
    [
      // bob has no select header: his listener, bad or not, picks no one but bob.
      'a bad listener without a select header, beside allowRunAs no request can reach',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x, allowRunAs: true }
  - { name: bob, password: y, listen: nonsense }
  - { name: carol, password: z, listen: 127.0.0.1:8081 }
`,
      [
        'users[1].listen: the value is not host:port (e.g. 127.0.0.1:8080); a single word is not shown, since a password in its place would look the same',
        "users[0].allowRunAs: no request can act as this user: give it users[0].listen, or give another user's listener a selectUserHeader that may pick it",
      ],
    ],
    [
      // The name is what clashes: alice's bad listener has nothing to do with it.
      'a bad listener on the first of two users of one name',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x, listen: nonsense }
  - { name: alice, password: y, listen: 127.0.0.1:8081 }
`,
      [
        'users[0].listen: the value is not host:port (e.g. 127.0.0.1:8080); a single word is not shown, since a password in its place would look the same',
        'users[1].name: "alice" already used by users[0]',
      ],
    ],
    [
      'a bad password beside both an admin and a RunAs account',
      `
vidispine:
  url: http://vidispine:8080
  admin: { username: ad, password: [1] }
  runAs: { username: ra, password: y }
users:
  - { name: alice, listen: 127.0.0.1:8080 }
`,
      [
        'vidispine.admin.password: must be a string',
        'vidispine.runAs: give vidispine.admin or vidispine.runAs, not both: one account mints for every user without a credential of its own',
      ],
    ],
    [
      // A bad token lifetime gives alice no listener and takes none of her credentials.
      "a bad key of a user's that its other problems do not rest on",
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, token: { seconds: x } }
`,
      [
        'users[0].token.seconds: must be a positive integer',
        'users[0]: user "alice" has no password or access key: set users[0].password, users[0].passwordFile, users[0].passwordEnv or users[0].accessKey.id, or vidispine.admin or vidispine.runAs (an account that mints its tokens)',
        'users: no user has a listen address; give at least one user a data listener (users[0].listen)',
      ],
    ],
    [
      'a bad listener of the second user, the first without one',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x }
  - { name: bob, password: y, listen: nonsense }
`,
      [
        'users[1].listen: the value is not host:port (e.g. 127.0.0.1:8080); a single word is not shown, since a password in its place would look the same',
      ],
    ],
    [
      'a misspelt listener of the second user, the first without one',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x }
  - { name: bob, password: y, lisen: 127.0.0.1:8080 }
`,
      ['users[1].lisen: unknown key; did you mean listen?'],
    ],
    [
      // \`pasword\` is a slip of password, not of a select header that could pick bob.
      'a misspelt password beside allowRunAs no request can reach',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, pasword: x, listen: 127.0.0.1:8080 }
  - { name: bob, password: y, allowRunAs: true }
`,
      [
        'users[0].pasword: unknown key; did you mean password?',
        "users[1].allowRunAs: no request can act as this user: give it users[1].listen, or give another user's listener a selectUserHeader that may pick it",
      ],
    ],
    [
      // Still said when no select header at all could pick alice.
      'allowRunAs that no request can reach, beside a bad key elsewhere',
      `
vidispine: { url: http://vidispine:8080 }
users:
  - { name: alice, password: x, allowRunAs: true }
  - { name: bob, password: y, listen: 127.0.0.1:8080 }
token: { seconds: 0 }
`,
      [
        'token.seconds: must be a positive integer',
        "users[0].allowRunAs: no request can act as this user: give it users[0].listen, or give another user's listener a selectUserHeader that may pick it",
      ],
    ],
  ])('%s', (_case, yaml, lines) => {
    expect(problemsOf(yaml)).toEqual([...lines].sort());
  });
});

describe('a misspelt variable: what follows from the key it meant is not reported', () => {
  const problemsOf = (env: NodeJS.ProcessEnv): string[] => sortedProblems({ env });
  const base = { VIDISPINE_URL: 'http://vidispine:8080', VIDISPINE_USER: 'alice' };

  it('no "has no password" beside VIDISPINE_PASWORD, and a real clash still named', () => {
    expect(
      problemsOf({
        ...base,
        VIDISPINE_PASWORD: 'x',
        PROXY_LISTEN: '127.0.0.1:9191',
        OPS_LISTEN: '0.0.0.0:9191',
      }),
    ).toEqual(
      [
        'VIDISPINE_PASWORD: unknown variable; did you mean VIDISPINE_PASSWORD?',
        'OPS_LISTEN: address already used by PROXY_LISTEN',
      ].sort(),
    );
  });

  it('a user without a password, no variable near one: still named', () => {
    expect(problemsOf({ ...base, VIDISPINE_URLL: 'x' })).toEqual(
      [
        'VIDISPINE_URLL: unknown variable; did you mean VIDISPINE_URL?',
        'VIDISPINE_USER: user "alice" has no password or access key: set VIDISPINE_PASSWORD, VIDISPINE_PASSWORD_FILE or VIDISPINE_ACCESS_KEY_ID, or VIDISPINE_ADMIN_USER or VIDISPINE_RUNAS_USER (an account that mints its tokens)',
      ].sort(),
    );
  });
});
