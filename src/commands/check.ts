/**
 * `check [--config FILE]`: validate the configuration, mint one token per user the way the
 * proxy would (the same token store, minters and endpoints), prove it with
 * `GET /API/whoami`, print a table. Exit 0 when every user works, 1 when one does not, 2 for
 * bad configuration. The tokens minted here are not used again; they lapse after their
 * lifetime.
 */
import { createTokenStoreFor, type TokenService } from '../app';
import type { ProxyConfig, UserConfig } from '../config/types';
import { NoTokenError } from '../tokens/types';
import { mintRequestLine } from '../vidispine/endpoints';
import { whoami } from '../vidispine/whoami';
import { EXIT_FAILURE, EXIT_OK } from './exit';
import { configForCommand } from './options';

export interface CheckRow {
  readonly user: string;
  readonly endpoint: string;
  readonly lifetime: string;
  /** `ok`, or the failure reason and what to do. Never a token or password. */
  readonly result: string;
  readonly ok: boolean;
}

export async function checkCommand(args: readonly string[]): Promise<number> {
  const config = configForCommand(args, process.env);
  const tokens = createTokenStoreFor(config);
  try {
    const rows = await Promise.all(config.users.map((u) => checkUser(config, u, tokens)));
    process.stdout.write(formatTable(rows));
    const failed = rows.filter((r) => !r.ok).length;
    process.stdout.write(
      `${verdict(rows.length, failed)} against ${config.vidispine.url.origin}\n`,
    );
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  } finally {
    tokens.stop();
  }
}

/** `1 user OK`, `all 3 users OK`, `1 of 3 users failed`. */
export function verdict(users: number, failed: number): string {
  const noun = users === 1 ? 'user' : 'users';
  if (failed > 0) return `${failed} of ${users} ${noun} failed`;
  return users === 1 ? '1 user OK' : `all ${users} users OK`;
}

async function checkUser(
  config: ProxyConfig,
  user: UserConfig,
  { store, transport }: TokenService,
): Promise<CheckRow> {
  const row = (): Omit<CheckRow, 'ok' | 'result'> => {
    // Read after the mint: the endpoint the store actually used.
    const status = store.status().find((s) => s.user === user.name);
    return {
      user: user.name,
      endpoint: status ? mintRequestLine(status.endpoint, user.name) : '—',
      lifetime: `${user.token.seconds} s${user.token.autoRefresh ? ', autoRefresh' : ''}`,
    };
  };
  let token: string;
  try {
    token = (await store.get(user.name)).value;
  } catch (err) {
    const result = err instanceof NoTokenError ? `${err.reason}: ${err.message}` : String(err);
    return { ...row(), ok: false, result };
  }
  try {
    const signal = AbortSignal.timeout(config.vidispine.mintTimeoutSeconds * 1000);
    const name = await whoami(transport, token, signal);
    if (name !== user.name) {
      return { ...row(), ok: false, result: `token works but belongs to "${name}"` };
    }
    return { ...row(), ok: true, result: 'ok' };
  } catch (err) {
    const result = `whoami failed: ${err instanceof Error ? err.message : String(err)}`;
    return { ...row(), ok: false, result };
  }
}

const HEADINGS = { user: 'USER', endpoint: 'ENDPOINT', lifetime: 'LIFETIME', result: 'RESULT' };

export function formatTable(rows: readonly CheckRow[]): string {
  const all = [HEADINGS, ...rows];
  const width = (key: 'user' | 'endpoint' | 'lifetime') =>
    Math.max(...all.map((r) => r[key].length));
  const widths = { user: width('user'), endpoint: width('endpoint'), lifetime: width('lifetime') };
  return all
    .map(
      (r) =>
        `${r.user.padEnd(widths.user)}  ${r.endpoint.padEnd(widths.endpoint)}  ${r.lifetime.padEnd(widths.lifetime)}  ${r.result}\n`,
    )
    .join('');
}
