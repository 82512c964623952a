/** Resolved configuration pieces for tests that build a config without loading one. */
import type { TokenSettings, UserConfig } from '../../src/config/types';

/** What `loadConfig` resolves for a 60 s token. */
export const TOKEN_DEFAULTS: TokenSettings = {
  seconds: 60,
  autoRefresh: false,
  serverRefreshIntervalSeconds: 10,
  safetyMarginSeconds: 5,
};

export type UserOverrides = Partial<Omit<UserConfig, 'name' | 'token'>> & {
  readonly token?: Partial<TokenSettings>;
};

export function userConfig(name: string, overrides: UserOverrides = {}): UserConfig {
  return {
    name,
    allowRunAs: false,
    ...overrides,
    token: { ...TOKEN_DEFAULTS, ...overrides.token },
  };
}
