/**
 * `check [--config FILE]`: validate the configuration, mint one token per user the way the
 * proxy would (the same token store, minters and endpoints), prove it with
 * `GET /API/whoami` (where the server has it: 404, 405 or 501 leave the token unchecked, with
 * a note), print a table. Exit 0 when every user works, 1 when one does not, 2 for
 * bad configuration. The tokens minted here are not used again; they lapse after their
 * lifetime.
 */
import { createTokenStoreFor, type TokenService } from '../app';
import type { Credential, ProxyConfig, UserConfig } from '../config/types';
import { NoTokenError } from '../tokens/types';
import { shownBaseUrl } from '../vidispine/connection';
import { mintModeFor, mintRequestLine } from '../vidispine/endpoints';
import { whoami, whoamiAbsent, WhoamiError } from '../vidispine/whoami';
import { messageOf } from '../error-message';
import { visibleText } from '../visible-text';
import { displayWidth, padToWidth } from './display-width';
import { EXIT_FAILURE, EXIT_OK } from './exit';
import { configForCommand } from './options';

export interface CheckRow {
  readonly user: string;
  /** What signs the token request: `password`, `access key VSID…`, `admin "a" (password)` … */
  readonly credential: string;
  readonly endpoint: string;
  readonly lifetime: string;
  /**
   * `ok` or `error: ` and the failure reason with what to do (a note after `ok: `), plus
   * warnings. Never a token or password.
   */
  readonly result: string;
  readonly ok: boolean;
}

export async function checkCommand(args: readonly string[]): Promise<number> {
  const config = await configForCommand(args, process.env);
  const tokens = createTokenStoreFor(config);
  try {
    const rows = await Promise.all(config.users.map((u) => checkUser(config, u, tokens)));
    process.stdout.write(formatTable(rows));
    const failed = rows.filter((r) => !r.ok).length;
    // The URL as configured, path included: a wrong path is a mistake this line should show.
    process.stdout.write(
      `${verdict(rows.length, failed)} against ${shownBaseUrl(config.vidispine.url)}\n`,
    );
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  } finally {
    tokens.stop();
  }
}

/** `1 user OK`, `all 3 users OK`, `1 of 3 users failed`. */
function verdict(users: number, failed: number): string {
  const noun = users === 1 ? 'user' : 'users';
  if (failed > 0) return `${failed} of ${users} ${noun} failed`;
  return users === 1 ? '1 user OK' : `all ${users} users OK`;
}

/** The most of a name Vidispine gives that the table shows: far more than any user name. */
const SHOWN_NAME_LIMIT = 200;

/** Vidispine's default `userTokenMaxInterval`: what a non-administrator may ask for. */
const DEFAULT_MAX_SECONDS = 60;

async function checkUser(
  config: ProxyConfig,
  user: UserConfig,
  { store, transport }: TokenService,
): Promise<CheckRow> {
  const notes: string[] = [];
  // The administrator asks for the user and may exceed the cap; the others are capped.
  if (mintModeFor(user, config.vidispine) !== 'admin' && user.token.seconds > DEFAULT_MAX_SECONDS) {
    notes.push(
      `warning: ${user.token.seconds} s is above Vidispine's default userTokenMaxInterval (${DEFAULT_MAX_SECONDS} s); unless the server's userTokenMaxInterval was raised or "${user.name}" has _administrator, the token is refused (400) or silently shorter`,
    );
  }
  const row = (ok: boolean, detail?: string): CheckRow => {
    // Read after the mint: the endpoint the store actually used, or the one that failed.
    const status = store.status().find((s) => s.user === user.name);
    const endpoint = ok ? status?.endpoint : (status?.lastError?.endpoint ?? status?.endpoint);
    return {
      user: user.name,
      credential: describeCredential(user, config),
      endpoint: endpoint ? mintRequestLine(endpoint, user.name) : '—',
      lifetime: `${user.token.seconds} s${user.token.autoRefresh ? ', autoRefresh' : ''}`,
      ok,
      result: [resultWord(ok, detail), ...notes].join('; '),
    };
  };
  let token: string;
  try {
    token = (await store.get(user.name)).value;
  } catch (err) {
    return row(false, err instanceof NoTokenError ? `${err.reason}: ${err.message}` : String(err));
  }
  try {
    const signal = AbortSignal.timeout(config.vidispine.mintTimeoutSeconds * 1000);
    const name = await whoami(transport, token, signal);
    // Vidispine's words, not ours: nothing in them may steer the terminal or flood the table.
    if (name !== user.name) {
      return row(false, `token works but belongs to "${visibleText(name, SHOWN_NAME_LIMIT)}"`);
    }
    return row(true);
  } catch (err) {
    // A server without the route cannot say whose the token is; the mint itself worked.
    if (err instanceof WhoamiError && whoamiAbsent(err.status)) {
      return row(true, `token minted; not checked: ${err.message}`);
    }
    return row(false, `whoami failed: ${messageOf(err)}`);
  }
}

/**
 * The column's first word is `ok` or `error`, whatever follows, so a script (or an eye
 * running down the column) tells a working user from a failing one without knowing every
 * failure class.
 */
function resultWord(ok: boolean, detail: string | undefined): string {
  if (!ok) return `error: ${detail ?? 'failed'}`;
  return detail === undefined ? 'ok' : `ok: ${detail}`;
}

function login(credential: Credential): string {
  return credential.kind === 'accessKey' ? `access key ${credential.basicUser}` : 'password';
}

/** What signs the user's token requests, in words (never the secret). */
function describeCredential(user: UserConfig, config: ProxyConfig): string {
  const { admin, runAs } = config.vidispine;
  switch (mintModeFor(user, config.vidispine)) {
    case 'own':
      return user.credential ? login(user.credential) : '';
    case 'runAs':
      return `RunAs "${runAs?.username ?? ''}" (${runAs ? login(runAs) : ''})`;
    case 'admin':
      return `admin "${admin?.username ?? ''}" (${admin ? login(admin) : ''})`;
  }
}

const HEADINGS: Omit<CheckRow, 'ok'> = {
  user: 'USER',
  credential: 'CREDENTIAL',
  endpoint: 'ENDPOINT',
  lifetime: 'LIFETIME',
  result: 'RESULT',
};
const COLUMNS = ['user', 'credential', 'endpoint', 'lifetime'] as const;

function formatTable(rows: readonly CheckRow[]): string {
  const all = [HEADINGS, ...rows];
  // In columns, not UTF-16 units: a CJK or emoji user name must not shift the columns after it.
  const widths = COLUMNS.map((key) => Math.max(...all.map((r) => displayWidth(r[key]))));
  return all
    .map(
      (r) => `${COLUMNS.map((key, i) => padToWidth(r[key], widths[i])).join('  ')}  ${r.result}\n`,
    )
    .join('');
}
