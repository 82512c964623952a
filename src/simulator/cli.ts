import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { createSimulator } from './server';
import { SIMULATOR_DEFAULTS, type SimUser, type SimulatorOptions } from './types';
import { DEFAULT_USERS } from './users';
import { parseUsersFile } from './users-file';

class UsageError extends Error {}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`; the host defaults to loopback. */
function parseListen(addr: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(addr) ?? /^()()(\d+)$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`--listen "${addr}": expected HOST:PORT with a port 0..65535`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    throw new UsageError(`--${name} "${raw}": expected a positive integer`);
  }
  return Number(raw);
}

/**
 * Under `--above-max reject`, a default lifetime above the cap would have every
 * non-administrator's token request without `seconds` refused for a value the client never
 * sent. (Under `cap` it is a server that silently shortens such tokens: coherent.)
 */
function checkDefaultWithinMax(given: number | undefined, givenMax: number | undefined): void {
  const dflt = given ?? SIMULATOR_DEFAULTS.defaultSeconds;
  const max = givenMax ?? SIMULATOR_DEFAULTS.maxSeconds;
  if (dflt <= max) return;
  throw new UsageError(
    given === undefined
      ? `--max-seconds "${max}": below --default-seconds (default ${dflt}); lower that too, or --above-max cap`
      : `--default-seconds "${dflt}": must be at most --max-seconds (${max}), or --above-max cap`,
  );
}

function nonEmptyString(name: string, raw: string | undefined): string | undefined {
  if (raw === '') throw new UsageError(`--${name}: expected a value`);
  return raw;
}

function loadUsers(file: string): SimUser[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`--users ${file}: cannot read (${code})`);
  }
  try {
    return parseUsersFile(text);
  } catch (err) {
    const lines = (err as Error).message.split('\n');
    throw new UsageError(lines.map((line) => `--users ${file}: ${line}`).join('\n'));
  }
}

interface Parsed {
  listen: ListenAddress;
  usersFile?: string;
  options: SimulatorOptions;
}

/** The command line `parse` takes; `--help` lists exactly these, from `HELP`. */
const OPTIONS = {
  listen: { type: 'string', default: '127.0.0.1:18080' },
  users: { type: 'string' },
  control: { type: 'boolean', default: false },
  'default-seconds': { type: 'string' },
  'max-seconds': { type: 'string' },
  'above-max': { type: 'string' },
  'refresh-interval': { type: 'string' },
  'no-token-endpoint': { type: 'boolean', default: false },
  'no-whoami': { type: 'boolean', default: false },
  'refused-runas-status': { type: 'string' },
  'reason-header': { type: 'boolean', default: false },
  'upload-passkey': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionsConfig;

/**
 * Each option's line in `--help`: the shape of its value and what it does, and the default
 * where the option itself has none to show. Keyed by `OPTIONS`, so no option goes unlisted.
 */
const HELP: Readonly<
  Record<keyof typeof OPTIONS, { value?: string; text: string; default?: string | number }>
> = {
  listen: { value: 'ADDR', text: 'HOST:PORT, [V6]:PORT or PORT to listen on; port 0 picks one' },
  users: {
    value: 'FILE',
    text: 'a YAML or JSON list of users (or a mapping with it under users:) instead of the demo users',
  },
  control: { text: 'serve the control surface under /__sim/ (calls, tokens, faults, clock)' },
  'default-seconds': {
    value: 'N',
    text: 'userTokenDefaultInterval: the lifetime when a request gives none',
    default: SIMULATOR_DEFAULTS.defaultSeconds,
  },
  'max-seconds': {
    value: 'N',
    text: 'userTokenMaxInterval: the most a non-administrator may ask for',
    default: SIMULATOR_DEFAULTS.maxSeconds,
  },
  'above-max': {
    value: 'reject|cap',
    text: 'more than that: answer 400, or issue --max-seconds',
    default: SIMULATOR_DEFAULTS.aboveMax,
  },
  'refresh-interval': {
    value: 'N',
    text: 'userTokenRefreshInterval: seconds between autoRefresh pushes',
    default: SIMULATOR_DEFAULTS.refreshIntervalSeconds,
  },
  'no-token-endpoint': { text: 'answer GET /API/token with 404, as VidiCore 4.11 does' },
  'no-whoami': { text: 'answer GET /API/whoami with 404, as a server without that route' },
  'refused-runas-status': {
    value: '401|403',
    text: 'the status of a refused RunAs, which Vidispine does not document',
    default: SIMULATOR_DEFAULTS.refusedRunAsStatus,
  },
  'reason-header': { text: "add Shiro's Reason: header to the credentials it refuses" },
  'upload-passkey': {
    value: 'KEY',
    text: 'the passkey of signed upload URLs (/APInoauth/import/raw?passkey=KEY)',
    default: SIMULATOR_DEFAULTS.uploadPasskey,
  },
  help: { text: 'show this help' },
};

function usage(): string {
  const entries = Object.entries(OPTIONS) as [keyof typeof OPTIONS, OptionsConfig[string]][];
  const flags = entries.map(([name, o]) =>
    [o.short === undefined ? '    ' : ` -${o.short},`, `--${name}`, HELP[name].value ?? '']
      .join(' ')
      .trimEnd(),
  );
  const width = Math.max(...flags.map((f) => f.length)) + 2;
  const lines = entries.map(([name, o], i) => {
    const shown = HELP[name].default ?? (o.type === 'string' ? o.default : undefined);
    const dflt = shown === undefined ? '' : ` (default ${shown})`;
    return ` ${flags[i].padEnd(width)}${HELP[name].text}${dflt}`;
  });
  return `Usage: vidispine-auth-proxy simulate [options]

A Vidispine stand-in that follows its authentication rules, for trying and testing a proxy.

Options:
${lines.join('\n')}
`;
}

/** The command line, or 'help' when it asks for the help (whatever else it says). */
function parse(args: string[]): Parsed | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (simulate --help lists the options)`);
  }
  if (values.help) return 'help';
  const aboveMax = values['above-max'];
  if (aboveMax !== undefined && aboveMax !== 'reject' && aboveMax !== 'cap') {
    throw new UsageError(`--above-max "${aboveMax}": expected reject or cap`);
  }
  const refused = values['refused-runas-status'];
  if (refused !== undefined && refused !== '401' && refused !== '403') {
    throw new UsageError(`--refused-runas-status "${refused}": expected 401 or 403`);
  }
  const refresh = values['refresh-interval'];
  if (refresh !== undefined && !/^\d+$/.test(refresh)) {
    throw new UsageError(`--refresh-interval "${refresh}": expected a non-negative integer`);
  }
  const defaultSeconds = positiveInt('default-seconds', values['default-seconds']);
  const maxSeconds = positiveInt('max-seconds', values['max-seconds']);
  if (aboveMax !== 'cap') checkDefaultWithinMax(defaultSeconds, maxSeconds);
  return {
    listen: parseListen(values.listen),
    usersFile: values.users,
    options: {
      users: values.users === undefined ? undefined : loadUsers(values.users),
      controlPath: values.control,
      defaultSeconds,
      maxSeconds,
      aboveMax,
      refreshIntervalSeconds: refresh === undefined ? undefined : Number(refresh),
      tokenEndpoint: !values['no-token-endpoint'],
      whoamiStatus: values['no-whoami'] ? 404 : undefined,
      refusedRunAsStatus: refused === undefined ? undefined : refused === '401' ? 401 : 403,
      reasonHeader: values['reason-header'],
      uploadPasskey: nonEmptyString('upload-passkey', values['upload-passkey']),
    },
  };
}

/** The start banner: demo users' credentials are public; a users file's secrets are not shown. */
function banner(url: string, parsed: Parsed): string {
  const users = parsed.options.users ?? DEFAULT_USERS;
  const lines = [`Vidispine simulator listening on ${url}`];
  lines.push(parsed.usersFile === undefined ? 'Demo users:' : `Users from ${parsed.usersFile}:`);
  for (const u of users) {
    const keys = u.accessKeys?.length
      ? ` key ${u.accessKeys.map((k) => `${k.id}:${k.secret}`).join(', ')}`
      : '';
    const secret = parsed.usersFile === undefined ? `/${u.password}${keys}` : '';
    const roles = u.roles?.length ? ` (${u.roles.join(', ')})` : '';
    lines.push(`  ${u.name}${secret}${roles}${u.disabled ? ' [disabled]' : ''}`);
  }
  if (parsed.options.controlPath) lines.push(`Control surface: ${url}/__sim/`);
  // The demo key is as public as the demo passwords; one given on the command line is not.
  const passkey =
    parsed.options.uploadPasskey === undefined ? SIMULATOR_DEFAULTS.uploadPasskey : 'KEY';
  lines.push(`Signed uploads: POST ${url}/APInoauth/import/raw?passkey=${passkey}`);
  const login =
    parsed.usersFile === undefined ? `${users[0].name}:${users[0].password}` : 'USER:PASSWORD';
  lines.push(`Try: curl -u ${login} ${url}/API/token`);
  return `${lines.join('\n')}\n`;
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'] as const;

export async function simulateCommand(args: string[]): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = parse(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // One line per problem, each on its own (a users file may have several).
    const lines = err.message.split('\n').map((line) => `vidispine-auth-proxy simulate: ${line}\n`);
    process.stderr.write(lines.join(''));
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const sim = createSimulator(parsed.options);
  let url: string;
  try {
    url = await sim.listen(parsed.listen.port, parsed.listen.host);
  } catch (err) {
    process.stderr.write(
      `vidispine-auth-proxy simulate: cannot listen: ${(err as Error).message}\n`,
    );
    return 1;
  }
  // Listening for the signals before the banner: whoever reads it may stop the simulator at
  // once. SIGHUP too: a simulator whose terminal has closed would linger, holding its port.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      for (const signal of STOP_SIGNALS) process.off(signal, stop);
      resolve(sig);
    };
    for (const signal of STOP_SIGNALS) process.on(signal, stop);
  });
  process.stdout.write(banner(url, parsed));
  const signal = await stopped;
  process.stderr.write(`received ${signal}, closing\n`);
  await sim.close();
  return 0;
}
