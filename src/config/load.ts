import type { z } from 'zod';
import { type EnvironmentMapping, nearMisses, proxyEnvironment, variableValue } from './env';
import {
  ConfigError,
  type ConfigIssue,
  type KeyIssue,
  type KeyNames,
  type KeyPath,
  keyPath,
  nameIssues,
  YAML_NAMES,
} from './errors';
import { isBlockAt, keysAt, rawAt } from './keys';
import { exceptFollowingUnsound, soundParts, type StandIns, type UnsoundPart } from './sound-parts';
import { resolveConfig } from './resolve';
import { fileSchema, type LogLevel, logLevelSchema, type ProblemParams } from './schema';
import { nearest, unknownKeyProblem } from './suggest';
import type { ProxyConfig } from './types';
import { readConfigFile, readYamlFile } from './yaml-file';

/** The variable that names the YAML file when `--config` is not given. */
export const CONFIG_FILE_VARIABLE = 'CONFIG_FILE';

/** The one variable that still applies beside a file, overriding `log.level`. */
const LOG_LEVEL_VARIABLE = proxyEnvironment.names.name(['log', 'level']);

export interface LoadOptions {
  /** YAML file from `--config`; falls back to `env.CONFIG_FILE`. */
  readonly file?: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * The file's bytes, read beforehand without blocking (`withConfigBytes`), as the commands
   * do; without them the file is read synchronously when loaded.
   */
  readonly bytes?: Buffer;
}

/** The YAML file `opts` name, and the setting that names it, if any. */
function namedFile(opts: LoadOptions): { file: string; setting: string } | undefined {
  // The file is named by the setting the user gave, so a path that cannot be read is
  // reported under the name they would look for.
  if (opts.file !== undefined) return { file: opts.file, setting: '--config' };
  const file = variableValue(opts.env[CONFIG_FILE_VARIABLE] ?? '') || undefined;
  return file === undefined ? undefined : { file, setting: CONFIG_FILE_VARIABLE };
}

/**
 * `opts` with the bytes of the file they name (`readConfigFile`): read off the main thread, so
 * that a SIGTERM or SIGINT can abort the wait through `stop` while its volume does not answer.
 * Throws `ConfigError` for a file that cannot be read or is too large.
 */
export async function withConfigBytes<O extends LoadOptions>(
  opts: O,
  stop?: AbortSignal,
): Promise<O> {
  const named = namedFile(opts);
  if (named === undefined || opts.bytes !== undefined) return opts;
  return { ...opts, bytes: await readConfigFile(named.file, named.setting, stop) };
}

/**
 * The validated configuration. With a file (from `--config` or `CONFIG_FILE`) the file is the
 * whole configuration and only `LOG_LEVEL` from the environment still applies (it overrides
 * `log.level`, so a Pod can turn on debug logs without editing the ConfigMap). Without a file,
 * the variables declared in `schema.ts` describe a single user.
 * Throws `ConfigError`, whose message names every bad key.
 */
export function loadConfig(opts: LoadOptions): ProxyConfig {
  return configOf(configSource(opts, proxyEnvironment), opts.env);
}

/** The validated configuration of a source already read (`loadConfig`). Throws `ConfigError`. */
export function configOf(source: ConfigSource, env: NodeJS.ProcessEnv): ProxyConfig {
  return withLogLevelOverride(validate(source, env), source, env);
}

/** Where a configuration comes from, and how its keys are named to the user. */
export interface ConfigSource {
  /** The YAML file's content, or the environment mapped onto the same shape. */
  readonly raw: unknown;
  /** Keys as the user wrote them: YAML paths, or the variables that set them. */
  readonly names: KeyNames;
  readonly fromFile: boolean;
  /**
   * Problems found before validation: variables that look like mistyped ones, and values no
   * variable of their kind takes (`ACCESS_LOG=maybe`).
   */
  readonly early: readonly ConfigIssue[];
  /**
   * Keys the source set to a default of its own, the user having left them out
   * (`PROXY_LISTEN`); keys left out of `raw` take the schema's default.
   */
  readonly defaulted?: readonly KeyPath[];
  /**
   * Keys a misspelt variable was meant for (`VIDISPINE_PASWORD`): what follows from their
   * absence repeats the misspelling, already named.
   */
  readonly meantByMisspelt?: readonly KeyPath[];
}

/** `--config FILE`, else `CONFIG_FILE`, else the environment through `environment`. */
export function configSource(opts: LoadOptions, environment: EnvironmentMapping): ConfigSource {
  const named = namedFile(opts);
  if (named === undefined) {
    const { raw, issues, defaulted } = environment.fromEnv(opts.env);
    return {
      raw,
      names: environment.names,
      fromFile: false,
      early: [...environment.misspelt(opts.env, [CONFIG_FILE_VARIABLE]), ...issues],
      defaulted,
      meantByMisspelt: environment.meantByMisspelt(opts.env),
    };
  }
  const knownKeys = (path: KeyPath) => keysAt(environment.schema, path);
  return {
    raw: readYamlFile(named.file, named.setting, knownKeys, opts.bytes),
    names: YAML_NAMES,
    fromFile: true,
    // Beside a file only the log level's variable is read: a slip of it would go unseen.
    early: nearMisses(opts.env, new Set([environment.names.name(['log', 'level'])])),
  };
}

/**
 * The validated value, or a `ConfigError` of the problems found instead (and the source's
 * misspelt names), each named in the source's words.
 */
export function valueOrThrow<T>(source: ConfigSource, result: T | readonly KeyIssue[]): T {
  if (!isIssueList(result) && source.early.length === 0) return result;
  const issues = isIssueList(result) ? result : [];
  throw new ConfigError(onceEach([...source.early, ...nameIssues(issues, source.names)]));
}

/**
 * Each problem once: a rule run per user finds a shared key's problem once per user (the
 * top-level margin against the top-level lifetime), each copy resting on that user's keys.
 */
function onceEach(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter(({ key, problem }) => {
    const line = `${key}: ${problem}`;
    if (seen.has(line)) return false;
    seen.add(line);
    return true;
  });
}

function isIssueList<T>(result: T | readonly KeyIssue[]): result is readonly KeyIssue[] {
  return Array.isArray(result);
}

/**
 * Validates an object shaped like the YAML file (e.g. one built in code, as the demo does).
 * `env` is where `passwordEnv` secrets are looked up; `names` names the keys in messages
 * (YAML paths unless the object stands for something the user wrote differently, such as the
 * demo's options); `defaulted` the keys it sets to a default of its own (an option left out).
 * Throws `ConfigError`.
 */
export function configFromObject(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  names: KeyNames = YAML_NAMES,
  defaulted: readonly KeyPath[] = [],
): ProxyConfig {
  return validate({ raw, names, fromFile: false, early: [], defaulted }, env);
}

function validate(source: ConfigSource, env: NodeJS.ProcessEnv): ProxyConfig {
  // Parsed once per start: zod's eval-compiled fast path would cost more to build (about
  // 10 ms) than it could save.
  const raw = withoutEmptyBlocks(source.raw, fileSchema);
  const isDefault = defaultedIn(source, raw);
  const parsed = fileSchema.safeParse(raw, { reportInput: true, jitless: true });
  if (parsed.success) {
    const found = resolveConfig(parsed.data, env, source.names, isDefault);
    const meant = misspeltParts(source);
    return valueOrThrow<ProxyConfig>(
      source,
      isIssueList(found) && meant.length > 0 ? exceptFollowingUnsound(found, meant, raw) : found,
    );
  }
  return valueOrThrow<ProxyConfig>(source, [
    ...zodIssues(parsed.error, fileSchema),
    ...crossKeyIssues(raw, env, source.names, isDefault),
  ]);
}

/**
 * The keys misspelt variables were meant for, as parts left to their default: what follows
 * from their absence repeats the misspelling, already named (`exceptFollowingUnsound`).
 */
export function misspeltParts(source: ConfigSource): UnsoundPart[] {
  return (source.meantByMisspelt ?? []).map((path) => ({ path, unknownKey: false }));
}

/** Whether a key of `raw` (read from `source`) holds a default rather than a value given. */
export function defaultedIn(source: ConfigSource, raw: unknown): (path: KeyPath) => boolean {
  return (path) =>
    rawAt(raw, path) === undefined ||
    (source.defaulted ?? []).some((d) => keyPath(d) === keyPath(path));
}

/**
 * Stand-ins for what the rules across keys need but a bad configuration may lack: the URL,
 * which no rule reads, and a user, whose findings are all dropped as it stays unsound.
 */
const STAND_INS: StandIns = {
  vidispine: { url: 'http://stand-in.invalid' },
  'vidispine.url': 'http://stand-in.invalid',
  'users.[]': { name: 'stand-in' },
};

/**
 * What the rules across keys find in the sound parts of a configuration the schema refused,
 * without what would follow from its refused parts: one start then names every problem.
 */
function crossKeyIssues(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  names: KeyNames,
  isDefault: (path: KeyPath) => boolean,
): KeyIssue[] {
  const sound = soundParts(fileSchema, raw, STAND_INS);
  if (sound === undefined) return [];
  const found = resolveConfig(sound.value, env, names, isDefault);
  return isIssueList(found) ? exceptFollowingUnsound(found, sound.unsound, raw) : [];
}

/**
 * `raw` with every block or list that has nothing under it (`token:` on a line of its own,
 * which YAML reads as null) left out, as if the key were not written: a user who empties a
 * block means its defaults. A single value with nothing after its colon stays null, and is
 * refused as having no value (a `password:` left empty must not quietly mean "no password").
 */
export function withoutEmptyBlocks(raw: unknown, schema: z.ZodType, path: KeyPath = []): unknown {
  if (Array.isArray(raw))
    return raw.map((item, i) => withoutEmptyBlocks(item, schema, [...path, i]));
  if (raw === null || typeof raw !== 'object') return raw;
  return Object.fromEntries(
    Object.entries(raw)
      .filter(([k, v]) => v !== null || !isBlockAt(schema, [...path, k]))
      .map(([k, v]) => [k, withoutEmptyBlocks(v, schema, [...path, k])]),
  );
}

/**
 * What a key name looks like. Anything else is not echoed: `password:secret` (no space after
 * the colon) is one unknown key to YAML, and its text holds the password.
 */
const KEY_SHAPE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

function unshownKeyProblem(key: string, valid: readonly string[]): string {
  const guess = nearest(key.split(/[:=\s]/)[0], valid);
  const meant = guess === undefined ? '' : `; did you mean "${guess}: …"?`;
  return `an unknown key, not shown since it may hold a value (a missing space after a colon?)${meant}`;
}

/** What a block or a list is, in YAML's words (zod's would be "expected object"). */
const SHAPES: Readonly<Record<string, string>> = {
  object: 'must be a block of keys (indented `key: value` lines, or `{ key: value, … }`)',
  array: 'must be a list (lines starting with `- `, or `[ … ]`)',
};

/** What was written instead, without its value (`admin: secret` may be a password). */
function shapeOf(input: unknown): string {
  if (Array.isArray(input)) return 'a list';
  return typeof input === 'object' ? 'a block of keys' : 'a single value';
}

/**
 * Zod's issues, each at its key: an unknown key with the nearest valid one of its block, a
 * missing value as "required", a block or list given as something else in YAML's words, a
 * problem that names other keys as a function that names them.
 */
export function zodIssues(error: z.ZodError, schema: z.ZodType): KeyIssue[] {
  return error.issues.flatMap((issue): KeyIssue[] => {
    const path = issue.path as KeyPath;
    if (issue.code === 'unrecognized_keys') {
      const valid = keysAt(schema, path);
      return issue.keys.map((k) =>
        KEY_SHAPE.test(k)
          ? { path: [...path, k], problem: unknownKeyProblem(k, valid) }
          : { path, problem: unshownKeyProblem(k, valid) },
      );
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return [{ path, problem: 'required' }];
    }
    if (issue.code === 'invalid_type' && issue.input === null) {
      return [{ path, problem: 'has no value: write one after the colon, or leave the key out' }];
    }
    if (issue.code === 'invalid_type' && issue.expected in SHAPES) {
      return [{ path, problem: `${SHAPES[issue.expected]}, not ${shapeOf(issue.input)}` }];
    }
    const named = issue.code === 'custom' ? (issue.params as ProblemParams | undefined) : undefined;
    return [{ path, problem: named?.problem ?? issue.message }];
  });
}

/** Beside a file, `LOG_LEVEL` still overrides `log.level` (a Pod turns on debug logs without editing its ConfigMap). */
export function withLogLevelOverride<C extends { readonly log: { readonly level: LogLevel } }>(
  config: C,
  source: ConfigSource,
  env: NodeJS.ProcessEnv,
): C {
  const given = env[LOG_LEVEL_VARIABLE];
  if (!source.fromFile || given === undefined) return config;
  const level = variableValue(given);
  const parsed = logLevelSchema.safeParse(level);
  if (!parsed.success) {
    throw new ConfigError({ key: LOG_LEVEL_VARIABLE, problem: parsed.error.issues[0].message });
  }
  return { ...config, log: { ...config.log, level: parsed.data } };
}
