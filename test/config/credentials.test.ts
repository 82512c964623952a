/**
 * Configuration that the proxy must refuse or must understand: bounded durations, user names
 * no request could carry, access keys (ID + secret), the RunAs account, CA files that hold
 * no certificate, hostile YAML, and secrets that leak into messages.
 */
import { rootCertificates } from 'node:tls';
import { configFromObject, loadConfig } from '../../src/config/load';
import { checkedConfigErrorOf, configErrorOf, loadChecked } from '../support/config-fixtures';
import { tempFolder } from '../support/files';

const { file } = tempFolder('credentials');
const problems = (fn: () => unknown): string => configErrorOf(fn).message;

const ENV = { VIDISPINE_URL: 'http://vidispine:8080', VIDISPINE_USER: 'alice' };
const PW = { ...ENV, VIDISPINE_PASSWORD: 'pw' };
const fromEnv = (env: NodeJS.ProcessEnv) => loadConfig({ env });
const fromObject = (raw: Record<string, unknown>) =>
  configFromObject({ vidispine: { url: 'http://vidispine:8080' }, ...raw }, {});

describe('durations are bounded, and the message names the key and the range', () => {
  const above = (max: number) => `must be a number of seconds above 0 and up to ${max}`;
  const from = (max: number) => `must be a number of seconds from 0 to ${max}`;
  const vidispineLimit = "must be at most 2147483647 (Vidispine's limit)";
  it.each([
    ['TOKEN_SECONDS', '2147483648', vidispineLimit],
    ['TOKEN_SECONDS', '10000000000000', vidispineLimit],
    ['VIDISPINE_MINT_TIMEOUT_SECONDS', '3000000', above(300)],
    ['VIDISPINE_MINT_TIMEOUT_SECONDS', '0', above(300)],
    ['VIDISPINE_CONNECT_TIMEOUT_SECONDS', '301', above(300)],
    ['VIDISPINE_UPSTREAM_TIMEOUT_SECONDS', '86401', above(86400)],
    ['SHUTDOWN_DELAY_SECONDS', '3000000', from(3600)],
    ['SHUTDOWN_DRAIN_SECONDS', '3000000', from(86400)],
    ['SHUTDOWN_DRAIN_SECONDS', '-1', from(86400)],
    ['TOKEN_SERVER_REFRESH_INTERVAL_SECONDS', '90000', from(86400)],
    ['PROXY_EXPECT_CONTINUE_TIMEOUT_MS', '60001', 'must be an integer from 0 to 60000 (ms)'],
  ])('%s=%s', (name, value, message) => {
    expect(problems(() => fromEnv({ ...PW, [name]: value }))).toContain(`${name}: ${message}`);
  });

  it('takes the largest values each allows', () => {
    const config = fromEnv({
      ...PW,
      TOKEN_SECONDS: '2147483647',
      VIDISPINE_MINT_TIMEOUT_SECONDS: '300',
      SHUTDOWN_DRAIN_SECONDS: '86400',
    });
    expect(config.users[0].token.seconds).toBe(2_147_483_647);
  });
});

describe('user names are what a request can carry intact', () => {
  it.each([
    ['a:b', "must not contain ':'"],
    ['a/b', "must not contain ':' (it ends the user name in Basic credentials), '/' or '\\'"],
    ['a\\b', "must not contain ':' (it ends the user name in Basic credentials), '/' or '\\'"],
    ['..', "must not be '.' or '..'"],
    ['.', "must not be '.' or '..'"],
    ['ali\nce', 'must not contain control characters'],
    ['x'.repeat(257), 'must be at most 256 characters'],
  ])('%j is refused', (name, message) => {
    expect(problems(() => fromEnv({ ...PW, VIDISPINE_USER: name }))).toContain(
      `VIDISPINE_USER: ${message}`,
    );
  });

  // A variable's surrounding space is trimmed (`load.test.ts`); a file's quoted name keeps it.
  it('a name that begins or ends with a space is refused', () => {
    expect(
      problems(() =>
        fromObject({ users: [{ name: ' alice', password: 'pw', listen: '127.0.0.1:8080' }] }),
      ),
    ).toBe('users[0].name: must not begin or end with a space');
  });

  it('names the admin and RunAs accounts by the same rule', () => {
    expect(
      problems(() =>
        fromEnv({ ...ENV, VIDISPINE_ADMIN_USER: 'ad:min', VIDISPINE_ADMIN_PASSWORD: 'x' }),
      ),
    ).toContain('VIDISPINE_ADMIN_USER: must not contain');
    expect(
      problems(() =>
        fromEnv({ ...ENV, VIDISPINE_RUNAS_USER: '..', VIDISPINE_RUNAS_PASSWORD: 'x' }),
      ),
    ).toContain("VIDISPINE_RUNAS_USER: must not be '.' or '..'");
  });

  it('takes names Vidispine allows: spaces inside, dots, @, non-ASCII', () => {
    for (const name of ['john.doe@example.com', 'o brien', 'Ærøskøbing', 'a.b', '...x']) {
      expect(fromEnv({ ...PW, VIDISPINE_USER: name }).users[0].name).toBe(name);
    }
  });

  it('refuses a name a RunAs header cannot carry, for users minted through RunAs', () => {
    const raw = {
      vidispine: { url: 'http://vidispine:8080', runAs: { username: 'svc', password: 'x' } },
      users: [{ name: '名前', listen: '127.0.0.1:0' }],
    };
    expect(problems(() => configFromObject(raw, {}))).toContain(
      'users[0].name: cannot be sent in a RunAs header',
    );
  });

  it('finds a duplicate among 40,000 users', () => {
    const users = Array.from({ length: 40_000 }, (_, i) => ({
      name: `u${i % 39_999}`,
      password: 'x',
      listen: '127.0.0.1:0',
    }));
    expect(problems(() => fromObject({ users }))).toBe(
      'users[39999].name: "u0" already used by users[0]',
    );
  });
});

describe('access keys: an ID and a secret', () => {
  it('from the environment, the ID as the Basic user name', () => {
    const secret = file('key-secret\n');
    const config = fromEnv({
      ...ENV,
      VIDISPINE_ACCESS_KEY_ID: 'VSID2C56CQTA7DWW7DLF',
      VIDISPINE_ACCESS_KEY_SECRET_FILE: secret,
    });
    expect(config.users[0].credential).toEqual({
      username: 'alice',
      kind: 'accessKey',
      basicUser: 'VSID2C56CQTA7DWW7DLF',
      secret: { kind: 'file', path: secret, setting: 'VIDISPINE_ACCESS_KEY_SECRET_FILE' },
    });
  });

  it('from YAML, for a user, the admin and the RunAs account', () => {
    const config = configFromObject(
      {
        vidispine: {
          url: 'http://vidispine:8080',
          runAs: { username: 'svc', accessKey: { id: 'VSIDSVC', secretEnv: 'SVC_KEY' } },
        },
        users: [
          { name: 'a', accessKey: { id: 'VSIDA', secret: 'k' }, listen: '127.0.0.1:0' },
          { name: 'b' },
        ],
      },
      { SVC_KEY: 's' },
    );
    expect(config.users[0].credential).toMatchObject({ kind: 'accessKey', basicUser: 'VSIDA' });
    expect(config.users[1].credential).toBeUndefined();
    expect(config.vidispine.runAs).toEqual({
      username: 'svc',
      kind: 'accessKey',
      basicUser: 'VSIDSVC',
      secret: { kind: 'env', name: 'SVC_KEY', setting: 'vidispine.runAs.accessKey.secretEnv' },
    });
  });

  it.each([
    [
      { ...PW, VIDISPINE_ACCESS_KEY_ID: 'VSIDX', VIDISPINE_ACCESS_KEY_SECRET: 's' },
      'VIDISPINE_PASSWORD: give a password or an access key, not both',
    ],
    [
      { ...ENV, VIDISPINE_ACCESS_KEY_ID: 'VSIDX' },
      "VIDISPINE_ACCESS_KEY_SECRET: give the access key's secret: set VIDISPINE_ACCESS_KEY_SECRET or VIDISPINE_ACCESS_KEY_SECRET_FILE",
    ],
    [{ ...ENV, VIDISPINE_ACCESS_KEY_SECRET: 's' }, 'VIDISPINE_ACCESS_KEY_ID: required'],
    [
      { ...ENV, VIDISPINE_ACCESS_KEY_ID: 'VS:ID', VIDISPINE_ACCESS_KEY_SECRET: 's' },
      "VIDISPINE_ACCESS_KEY_ID: must be the key's ID",
    ],
    [
      { ...ENV, VIDISPINE_ACCESS_KEY_ID: 'VSIDX', VIDISPINE_ACCESS_KEY_SECRET: '' },
      'VIDISPINE_ACCESS_KEY_SECRET: the value is empty',
    ],
  ])('%j is refused', (env, message) => {
    expect(problems(() => fromEnv(env))).toContain(message);
  });
});

describe('the RunAs account', () => {
  it('mints for users without a credential of their own', () => {
    const config = fromEnv({ ...ENV, VIDISPINE_RUNAS_USER: 'svc', VIDISPINE_RUNAS_PASSWORD: 'x' });
    expect(config.vidispine.runAs).toMatchObject({ username: 'svc', kind: 'password' });
    expect(config.vidispine.admin).toBeUndefined();
  });

  it('is one or the other with the admin account', () => {
    expect(
      problems(() =>
        fromEnv({
          ...ENV,
          VIDISPINE_RUNAS_USER: 'svc',
          VIDISPINE_RUNAS_PASSWORD: 'x',
          VIDISPINE_ADMIN_USER: 'admin',
          VIDISPINE_ADMIN_PASSWORD: 'y',
        }),
      ),
    ).toContain(
      'VIDISPINE_RUNAS_USER: give VIDISPINE_ADMIN_USER or VIDISPINE_RUNAS_USER, not both',
    );
  });

  it('needs a password or access key', () => {
    expect(problems(() => fromEnv({ ...ENV, VIDISPINE_RUNAS_USER: 'svc' }))).toContain(
      'VIDISPINE_RUNAS_USER: the account "svc" has no password or access key: set VIDISPINE_RUNAS_PASSWORD, VIDISPINE_RUNAS_PASSWORD_FILE or VIDISPINE_RUNAS_ACCESS_KEY_ID',
    );
  });
});

describe('messages never echo a secret', () => {
  it('not even a password inside a URL too broken to parse', () => {
    const message = problems(() =>
      fromEnv({ ...PW, VIDISPINE_URL: 'http://admin:s3cret@host:80800' }),
    );
    expect(message).toContain('VIDISPINE_URL: "http://[REDACTED]@host:80800" is not a URL');
    expect(message).not.toContain('s3cret');
  });
});

describe('the CA file', () => {
  const checkedProblems = async (env: NodeJS.ProcessEnv): Promise<string> =>
    (await checkedConfigErrorOf({ env })).message;

  it('must hold PEM certificates that parse, read before the proxy starts', async () => {
    const garbage = file('this is not a certificate\n');
    expect(await checkedProblems({ ...PW, VIDISPINE_CA_FILE: garbage })).toContain(
      `VIDISPINE_CA_FILE: ${garbage} holds no PEM certificate`,
    );
    const broken = file('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(await checkedProblems({ ...PW, VIDISPINE_CA_FILE: broken })).toContain(
      `VIDISPINE_CA_FILE: certificate 1 in ${broken} cannot be parsed`,
    );
    const pem = rootCertificates.slice(0, 3).join('\n');
    const good = file(pem);
    const { vidispine } = await loadChecked({ env: { ...PW, VIDISPINE_CA_FILE: good } });
    expect(vidispine.caFile).toBe(good);
    expect(vidispine.ca?.toString('latin1')).toBe(pem);
  });
});

describe('hostile YAML', () => {
  it('a billion laughs is a configuration error, not a crash', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const path = file(`${lines.join('\n')}\n`);
    expect(problems(() => loadConfig({ file: path, env: {} }))).toBe(
      `${path}: aliases (*…) that expand to too many values`,
    );
  });
});
