import { type KeyNames, YAML_NAMES } from '../config/errors';
import {
  describeSecret,
  readSecretUntil,
  SecretError,
  SecretReadHeldError,
  SecretTimeoutError,
} from '../config/secrets';
import type { Credential, UserConfig, VidispineConfig } from '../config/types';
import {
  createServerFacts,
  MINT_ENDPOINTS,
  type MintEndpoint,
  mintModeFor,
  MODE_ENDPOINTS,
  type ServerFacts,
  showsEndpoint,
} from './endpoints';
import { MintError, type MintedToken, type TokenMinter } from './types';
import {
  errorForNetworkFailure,
  type MintContext,
  timeoutError,
  tokenFromAnswer,
  withoutSecrets,
} from './classify';
import {
  CutAnswerError,
  type HttpAnswer,
  NotConnectedError,
  type VidispineTransport,
} from './transport';

export interface MinterOptions {
  readonly vidispine: Pick<VidispineConfig, 'admin' | 'runAs' | 'mintTimeoutSeconds' | 'caFile'>;
  readonly user: UserConfig;
  /** Shared by every minter of the process. */
  readonly transport: VidispineTransport;
  /** What the minters of a process learned of the server; default: this minter's own. */
  readonly server?: ServerFacts;
  /** Where `passwordEnv`/`secretEnv` secrets are read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock for `sentAt`; must be the token store's clock (the app passes it). Default `Date.now`. */
  readonly now?: () => number;
  /** How the configuration names its keys, for messages; default YAML paths. */
  readonly names?: KeyNames;
}

/**
 * Mints tokens for one user, the way `endpoints.ts` describes: with its own password or
 * access key, the RunAs account or the admin account. The secret is read again before every
 * mint, so a rotated file is used at once. When `GET /API/token` answers 404, the mint asks
 * the per-user endpoint at once; once that has shown it exists, so do all later mints of the
 * process, and until then each asks `GET /API/token` first again.
 */
export function createTokenMinter(opts: MinterOptions): TokenMinter {
  const { user, transport } = opts;
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const server = opts.server ?? createServerFacts();
  const mode = mintModeFor(user, opts.vidispine);
  const credential: Credential | undefined =
    mode === 'own'
      ? user.credential
      : mode === 'runAs'
        ? opts.vidispine.runAs
        : opts.vidispine.admin;
  if (!credential) {
    throw new Error(`user "${user.name}" has no credential and no account mints for it`);
  }
  const endpoints = MODE_ENDPOINTS[mode];
  const current = (): MintEndpoint =>
    server.tokenEndpoint === 'absent' ? endpoints.withoutToken : endpoints.first;
  const { seconds, autoRefresh } = user.token;
  const query = `?seconds=${seconds}&autoRefresh=${autoRefresh}`;
  const names = opts.names ?? YAML_NAMES;
  const ctx: MintContext = {
    user: user.name,
    mode,
    credential,
    secretSource: describeSecret(credential.secret),
    seconds,
    origin: transport.base,
    timeoutSeconds: opts.vidispine.mintTimeoutSeconds,
    caFile: opts.vidispine.caFile,
    settings: {
      url: names.name(['vidispine', 'url']),
      seconds: names.name(['token', 'seconds']),
      caFile: names.name(['vidispine', 'caFile']),
      mintTimeout: names.name(['vidispine', 'mintTimeoutSeconds']),
    },
  };

  return {
    get endpoint() {
      return current();
    },
    secretFile: credential.secret.kind === 'file' ? credential.secret.path : undefined,
    async mint(signal?: AbortSignal): Promise<MintedToken> {
      const timeout = AbortSignal.timeout(ctx.timeoutSeconds * 1000);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      const { authorization, secret } = await basicAuth(credential, env, combined, ctx).catch(
        (err: unknown) => {
          throw signal?.aborted ? signal.reason : err;
        },
      );
      // What Vidispine (or a gateway) may repeat in a `Reason:` or a `Location`, as a header
      // would carry it; the whole Authorization value before the base64 inside it.
      const sent = [
        authorization,
        authorization.slice(BASIC.length),
        secret.toString('latin1'),
        secret.toString('utf8'),
      ];
      const ask = async (endpoint: MintEndpoint) => {
        const kind = MINT_ENDPOINTS[endpoint];
        const headers: Record<string, string> = {
          Accept: 'text/plain',
          Authorization: authorization,
        };
        if (kind.runAs) headers.RunAs = user.name;
        const sentAt = now();
        let answer: HttpAnswer;
        try {
          answer = await transport.get(kind.path(user.name) + query, headers, combined);
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          throw askedOn(
            endpoint,
            timeout.aborted
              ? timeoutError(
                  ctx,
                  !(err instanceof NotConnectedError),
                  err instanceof CutAnswerError ? err.status : undefined,
                )
              : errorForNetworkFailure(err, ctx),
          );
        }
        return { answer, sentAt, endpoint };
      };
      let asked = await ask(current());
      const usedTokenEndpoint = asked.endpoint !== endpoints.withoutToken;
      if (usedTokenEndpoint && asked.answer.status === 404 && server.tokenEndpoint !== 'present') {
        asked = await ask(endpoints.withoutToken);
        if (showsEndpoint(asked.answer.status)) server.tokenEndpoint = 'absent';
      } else if (usedTokenEndpoint && asked.answer.status < 300) {
        server.tokenEndpoint = 'present';
      }
      let value: string;
      try {
        value = tokenFromAnswer(withoutSecrets(asked.answer, sent), asked.endpoint, ctx);
      } catch (err) {
        throw askedOn(asked.endpoint, err);
      }
      return { value, sentAt: asked.sentAt, seconds };
    },
  };
}

const BASIC = 'Basic ';

/** A failure of a request to `endpoint`, saying so. */
function askedOn(endpoint: MintEndpoint, err: unknown): unknown {
  if (!(err instanceof MintError)) return err;
  return new MintError(err.reason, err.message, err.status, err.retryAfterMs, endpoint);
}

/**
 * `Basic base64(user ":" secret)`, the secret's bytes exactly as stored, and those bytes. The
 * user is the account's name, or its access key's ID.
 */
async function basicAuth(
  credential: Credential,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  { timeoutSeconds, settings }: MintContext,
): Promise<{ authorization: string; secret: Buffer }> {
  let secret: Buffer;
  try {
    secret = await readSecretUntil(credential.secret, env, signal);
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    const what =
      credential.kind === 'accessKey'
        ? `the secret of access key ${credential.basicUser}`
        : `the password of "${credential.username}"`;
    const message = `${what} (${credential.secret.setting ?? 'configured'}): ${err.message}`;
    // A stuck volume is retried like a mint that timed out: it may answer again by itself.
    if (err instanceof SecretReadHeldError) throw new MintError('timeout', message);
    throw err instanceof SecretTimeoutError
      ? new MintError(
          'timeout',
          `${message} within ${timeoutSeconds} s (${settings.mintTimeout}): is its volume stuck?`,
        )
      : new MintError('secret_unreadable', message);
  }
  const pair = Buffer.concat([Buffer.from(`${credential.basicUser}:`, 'utf8'), secret]);
  return { authorization: `${BASIC}${pair.toString('base64')}`, secret };
}
