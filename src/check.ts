import { configForCommand } from './config';
import type { ProxyConfig, UserConfig } from './config/types';
import { MintError } from './tokens/types';
import {
  createTokenMinter,
  createTransport,
  mintRequestLine,
  type VidispineTransport,
  whoami,
} from './vidispine';

export interface CheckRow {
  readonly user: string;
  readonly endpoint: string;
  readonly lifetime: string;
  /** `ok`, or the failure reason and what to do. Never a token or password. */
  readonly result: string;
  readonly ok: boolean;
}

/**
 * `check [--config FILE]`: validate the configuration, mint one token per user with the
 * endpoint the proxy would use, prove it with `GET /API/whoami`, print a table.
 * Exit 0 when every user works, 1 when one does not, 2 for bad configuration. The tokens
 * minted here are not used again; they lapse after their lifetime.
 */
export async function checkCommand(args: string[]): Promise<number> {
  const config = configForCommand(args, process.env);
  if (config === 2) return 2;
  const transport = createTransport(config.vidispine);
  try {
    const rows = await Promise.all(config.users.map((u) => checkUser(config, u, transport)));
    process.stdout.write(formatTable(rows));
    const failed = rows.filter((r) => !r.ok).length;
    process.stdout.write(
      failed === 0
        ? `all ${rows.length} users OK against ${config.vidispine.url.origin}\n`
        : `${failed} of ${rows.length} users failed against ${config.vidispine.url.origin}\n`,
    );
    return failed === 0 ? 0 : 1;
  } finally {
    transport.close();
  }
}

async function checkUser(
  config: ProxyConfig,
  user: UserConfig,
  transport: VidispineTransport,
): Promise<CheckRow> {
  const minter = createTokenMinter({ vidispine: config.vidispine, user, transport });
  const row = {
    user: user.name,
    endpoint: mintRequestLine(minter.endpoint, user.name),
    lifetime: `${user.token.seconds} s${user.token.autoRefresh ? ', autoRefresh' : ''}`,
  };
  try {
    const token = await minter.mint();
    const signal = AbortSignal.timeout(config.vidispine.mintTimeoutSeconds * 1000);
    const name = await whoami(transport, token.value, signal);
    if (name !== user.name) {
      return { ...row, ok: false, result: `token works but belongs to "${name}"` };
    }
    return { ...row, ok: true, result: 'ok' };
  } catch (err) {
    const result =
      err instanceof MintError
        ? `${err.reason}: ${err.message}`
        : `whoami failed: ${err instanceof Error ? err.message : String(err)}`;
    return { ...row, ok: false, result };
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
