/** Configuration pieces for tests that build a configuration without loading a file. */
import { ConfigError } from '../../src/config/errors';
import { configFromObject, type LoadOptions } from '../../src/config/load';
import { loadStartConfig } from '../../src/config/start-files';
import type {
  Credential,
  ProxyConfig,
  SecretSource,
  TokenSettings,
  UserConfig,
} from '../../src/config/types';

const ONE_USER = [{ name: 'nobody', password: 'unused', listen: '127.0.0.1:0' }];

/** The configuration loading resolves for these `vidispine` keys and one stand-in user. */
export function configWith(vidispine: Record<string, unknown>): ProxyConfig {
  return configFromObject({ vidispine, users: ONE_USER }, {});
}

/** What loading resolves for a user without token keys of its own. */
const TOKEN_DEFAULTS: TokenSettings = configFromObject(
  { vidispine: { url: 'http://vidispine:8080' }, users: ONE_USER },
  {},
).users[0].token;

export type UserOverrides = Partial<Omit<UserConfig, 'name' | 'token'>> & {
  readonly token?: Partial<TokenSettings>;
};

/** A resolved user: `allowRunAs` off and the default token keys unless overridden. */
export function userConfig(name: string, overrides: UserOverrides = {}): UserConfig {
  return {
    name,
    allowRunAs: false,
    ...overrides,
    token: { ...TOKEN_DEFAULTS, ...overrides.token },
  };
}

/** A password credential, as loading resolves it; a string is a literal password. */
export function password(username: string, secret: SecretSource | string): Credential {
  const source: SecretSource =
    typeof secret === 'string' ? { kind: 'literal', value: secret } : secret;
  return { username, kind: 'password', basicUser: username, secret: source };
}

/** An access-key credential: the key's ID is the Basic user name. */
export function accessKey(
  username: string,
  keyId: string,
  secret: SecretSource | string,
): Credential {
  return { ...password(username, secret), kind: 'accessKey', basicUser: keyId };
}

/** The ConfigError `fn` throws; anything else it throws, or nothing, fails the test. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/**
 * The configuration `opts` describe, its secret files and CA file read as `run` and `check`
 * read them before anything starts: what a command refuses with exit 2.
 */
export async function loadChecked(opts: LoadOptions): Promise<ProxyConfig> {
  return loadStartConfig(opts);
}

/** The ConfigError `loadChecked(opts)` rejects with; anything else, or nothing, fails the test. */
export async function checkedConfigErrorOf(opts: LoadOptions): Promise<ConfigError> {
  const err = await loadChecked(opts).then(
    () => new Error('expected a ConfigError'),
    (e: unknown) => e,
  );
  if (err instanceof ConfigError) return err;
  throw err;
}
