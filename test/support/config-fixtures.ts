/** Configuration pieces for tests that build a configuration without loading a file. */
import { configFromObject } from '../../src/config/load';
import type { ProxyConfig, TokenSettings, UserConfig } from '../../src/config/types';

const ONE_USER = [{ name: 'nobody', password: 'unused', listen: '127.0.0.1:0' }];

/** The configuration loading resolves for these `vidispine` keys and one stand-in user. */
export function configWith(vidispine: Record<string, unknown>): ProxyConfig {
  return configFromObject({ vidispine, users: ONE_USER }, {});
}

/** What loading resolves for a user without token keys of its own. */
export const TOKEN_DEFAULTS: TokenSettings = configFromObject(
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
