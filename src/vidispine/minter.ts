import { type KeyNames, YAML_NAMES } from '../config/errors';
import { describeSecret, readSecret, SecretError } from '../config/secrets';
import type { Credential, UserConfig, VidispineConfig } from '../config/types';
import { MINT_ENDPOINTS, mintEndpointFor } from './endpoints';
import { MintError, type MintedToken, type TokenMinter } from './types';
import {
  errorForNetworkFailure,
  type MintContext,
  timeoutError,
  tokenFromAnswer,
} from './classify';
import type { VidispineTransport } from './transport';

export interface MinterOptions {
  readonly vidispine: Pick<VidispineConfig, 'admin' | 'mintTimeoutSeconds'>;
  readonly user: UserConfig;
  /** Shared by every minter of the process. */
  readonly transport: VidispineTransport;
  /** Where `passwordEnv` secrets are read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock for `sentAt`; must be the token store's clock. Default `Date.now`. */
  readonly now?: () => number;
  /** How the configuration names its keys, for messages; default YAML paths. */
  readonly names?: KeyNames;
}

/**
 * Mints tokens for one user: with its own password or access key through `GET /API/token`,
 * otherwise with the admin credential through `GET /API/user/{name}/token`. The secret is read
 * again before every mint, so a rotated file is used at once.
 */
export function createTokenMinter(opts: MinterOptions): TokenMinter {
  const { user, transport } = opts;
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const credential: Credential | undefined =
    user.secret !== undefined ? { username: user.name, secret: user.secret } : opts.vidispine.admin;
  if (!credential)
    throw new Error(`user "${user.name}" has neither a password nor an admin credential`);
  const endpoint = mintEndpointFor(user);
  const path = MINT_ENDPOINTS[endpoint].path(user.name);
  const { seconds, autoRefresh } = user.token;
  const query = `?seconds=${seconds}&autoRefresh=${autoRefresh}`;
  const names = opts.names ?? YAML_NAMES;
  const ctx: MintContext = {
    user: user.name,
    endpoint,
    caller: credential.username,
    secretSource: describeSecret(credential.secret),
    seconds,
    origin: transport.base,
    timeoutSeconds: opts.vidispine.mintTimeoutSeconds,
    settings: {
      url: names.name(['vidispine', 'url']),
      seconds: names.name(['token', 'seconds']),
      caFile: names.name(['vidispine', 'caFile']),
      mintTimeout: names.name(['vidispine', 'mintTimeoutSeconds']),
    },
  };

  return {
    endpoint,
    async mint(signal?: AbortSignal): Promise<MintedToken> {
      const authorization = basicAuth(credential, env, ctx);
      const timeout = AbortSignal.timeout(ctx.timeoutSeconds * 1000);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      const sentAt = now();
      let answer;
      try {
        answer = await transport.get(
          path + query,
          { Accept: 'text/plain', Authorization: authorization },
          combined,
        );
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (timeout.aborted) throw timeoutError(ctx);
        throw errorForNetworkFailure(err, ctx);
      }
      return { value: tokenFromAnswer(answer, ctx), sentAt, seconds };
    },
  };
}

function basicAuth(credential: Credential, env: NodeJS.ProcessEnv, ctx: MintContext): string {
  let secret: string;
  try {
    secret = readSecret(credential.secret, env);
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    throw new MintError(
      'secret_unreadable',
      `the password of "${ctx.caller}" (${credential.secret.setting ?? 'configured'}): ${err.message}`,
    );
  }
  return `Basic ${Buffer.from(`${credential.username}:${secret}`).toString('base64')}`;
}
