/**
 * The secret files a configuration names are read before the proxy starts, asynchronously:
 * `loadConfig` itself reads none (its volume may hang), and what `checkSecretFiles` finds
 * wrong is bad configuration, named by key, every file at once.
 */
import { proxyEnvironment } from '../../src/config/env';
import { configFromObject, configSource, loadConfig } from '../../src/config/load';
import { checkSecretFiles, secretFiles, startReadBound } from '../../src/config/secret-files';
import { startFilesOf, startFilesOfSource } from '../../src/config/start-files';
import { tempFolder } from '../support/files';
import { configErrorOf } from '../support/config-fixtures';
import { ConfigError } from '../../src/config/errors';

const { file, path } = tempFolder('secret-files');

const settled = (promise: Promise<void>): Promise<unknown> =>
  promise.then(
    () => 'read',
    (err: unknown) => err,
  );

it('loadConfig reads no secret file: a missing one passes it, and fails the check, by key', async () => {
  const missing = path('missing');
  const config = loadConfig({
    env: {
      VIDISPINE_URL: 'http://vidispine:8080',
      VIDISPINE_USER: 'alice',
      VIDISPINE_PASSWORD_FILE: missing,
    },
  });
  expect(secretFiles(config)).toEqual([
    { kind: 'file', path: missing, setting: 'VIDISPINE_PASSWORD_FILE' },
  ]);
  const err = await settled(checkSecretFiles(startFilesOf(config), {}));
  expect(err).toEqual(
    new ConfigError({
      key: 'VIDISPINE_PASSWORD_FILE',
      problem: `cannot read file ${missing} (ENOENT)`,
    }),
  );
});

it("names every account's file that cannot be used, in order, and never a secret", async () => {
  const empty = file('\r\n');
  const good = file('bob-password\n');
  const config = configFromObject(
    {
      vidispine: { url: 'http://vidispine:8080', admin: { username: 'a', passwordFile: empty } },
      users: [
        { name: 'alice', accessKey: { id: 'VSID1', secretFile: path('gone') } },
        { name: 'bob', passwordFile: good, listen: '127.0.0.1:0' },
        { name: 'carol', password: 'carol-password', listen: '127.0.0.1:1' },
      ],
    },
    {},
  );
  expect(secretFiles(config).map((s) => s.setting)).toEqual([
    'vidispine.admin.passwordFile',
    'users[0].accessKey.secretFile',
    'users[1].passwordFile',
  ]);
  const err = await settled(checkSecretFiles(startFilesOf(config), {}));
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message.split('\n')).toEqual([
    `vidispine.admin.passwordFile: file ${empty} is empty`,
    expect.stringMatching(/^users\[0\]\.accessKey\.secretFile: cannot read file .* \(ENOENT\)$/),
  ]);
});

it('resolves when every file holds a secret, or when there is none', async () => {
  const config = configFromObject(
    {
      vidispine: { url: 'http://vidispine:8080' },
      users: [{ name: 'alice', passwordFile: file('alice-password\n'), listen: '127.0.0.1:0' }],
    },
    {},
  );
  await expect(checkSecretFiles(startFilesOf(config), {})).resolves.toBeUndefined();
  const literal = configFromObject(
    {
      vidispine: { url: 'http://vidispine:8080' },
      users: [{ name: 'alice', password: 'pw', listen: '127.0.0.1:0' }],
    },
    {},
  );
  expect(secretFiles(literal)).toEqual([]);
  await expect(checkSecretFiles(startFilesOf(literal), {})).resolves.toBeUndefined();
  // A value or a variable is still checked at once, by loadConfig.
  expect(
    configErrorOf(() =>
      configFromObject(
        {
          vidispine: { url: 'http://vidispine:8080' },
          users: [{ name: 'alice', passwordEnv: 'NOPE', listen: '127.0.0.1:0' }],
        },
        {},
      ),
    ).message,
  ).toBe('users[0].passwordEnv: environment variable NOPE is not set');
});

describe('the bound on the reads, named in the line of a file not read in time', () => {
  const env = (timeout: string): NodeJS.ProcessEnv => ({
    VIDISPINE_URL: 'http://vidispine:8080',
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD_FILE: path('pw'),
    VIDISPINE_MINT_TIMEOUT_SECONDS: timeout,
    TOKEN_SECONDS: 'soon',
  });
  const within = (timeout: string): string =>
    startReadBound(startFilesOfSource(configSource({ env: env(timeout) }, proxyEnvironment)))
      .within;

  it('is the key that sets it, beside other bad keys', () => {
    expect(within('3')).toBe('within 3 s (VIDISPINE_MINT_TIMEOUT_SECONDS)');
  });

  // Right under the line that says the key is bad, "(VIDISPINE_MINT_TIMEOUT_SECONDS)" read
  // as if its value had been taken.
  it("is the key's default when its own value is bad, said so", () => {
    expect(within('soon')).toBe(
      'within 10 s (the default of VIDISPINE_MINT_TIMEOUT_SECONDS, whose value is bad)',
    );
  });
});
