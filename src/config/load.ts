import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { type EnvironmentMapping, proxyEnvironment } from './env';
import { ConfigError, type ConfigIssue, keyPath } from './errors';
import { resolveConfig } from './resolve';
import { fileSchema, type LogLevel, logLevelSchema } from './schema';
import type { ProxyConfig } from './types';

/** The variable that names the YAML file when `--config` is not given. */
export const CONFIG_FILE_VARIABLE = 'CONFIG_FILE';

/** The one variable that still applies beside a file, overriding `log.level`. */
const LOG_LEVEL_VARIABLE = proxyEnvironment.nameFor('log.level');

export interface LoadOptions {
  /** YAML file from `--config`; falls back to `env.CONFIG_FILE`. */
  readonly file?: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The validated configuration. With a file (from `--config` or `CONFIG_FILE`) the file is the
 * whole configuration and only `LOG_LEVEL` from the environment still applies (it overrides
 * `log.level`, so a Pod can turn on debug logs without editing the ConfigMap). Without a file,
 * the variables declared in `schema.ts` describe a single user.
 * Throws `ConfigError`, whose message names every bad key.
 */
export function loadConfig(opts: LoadOptions): ProxyConfig {
  const source = configSource(opts, proxyEnvironment);
  return withLogLevelOverride(validate(source.raw, opts.env, source.rename), source, opts.env);
}

/** Where a configuration comes from, and how its keys are named to the user. */
export interface ConfigSource {
  /** The YAML file's content, or the environment mapped onto the same shape. */
  readonly raw: unknown;
  /** A key as the user wrote it: the YAML path, or the variable that sets it. */
  readonly rename: (key: string) => string;
  readonly fromFile: boolean;
}

/** `--config FILE`, else `CONFIG_FILE`, else the environment through `environment`. */
export function configSource(opts: LoadOptions, environment: EnvironmentMapping): ConfigSource {
  const file = opts.file ?? (opts.env[CONFIG_FILE_VARIABLE] || undefined);
  if (file === undefined) {
    return { raw: environment.fromEnv(opts.env), rename: environment.nameFor, fromFile: false };
  }
  return { raw: readYamlFile(file), rename: (k) => k, fromFile: true };
}

/**
 * Validates an object shaped like the YAML file (e.g. one built in code, as the demo does).
 * `env` is where `passwordEnv` secrets are looked up. Throws `ConfigError`.
 */
export function configFromObject(raw: unknown, env: NodeJS.ProcessEnv): ProxyConfig {
  return validate(raw, env, (k) => k);
}

function validate(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  rename: (key: string) => string,
): ProxyConfig {
  const parsed = fileSchema.safeParse(raw, { reportInput: true });
  const result = parsed.success ? resolveConfig(parsed.data, env) : zodIssues(parsed.error);
  if (Array.isArray(result)) {
    throw new ConfigError(result.map((i) => ({ key: rename(i.key), problem: i.problem })));
  }
  return result as ProxyConfig;
}

/** Zod's issues as `key: problem` pairs (unknown keys one by one, a missing value as "required"). */
export function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ key: keyPath([...issue.path, k]), problem: 'unknown key' }));
    }
    const problem =
      issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message;
    return [{ key: keyPath(issue.path) || '(top level)', problem }];
  });
}

/** A YAML file's content; a missing file or a syntax error is a `ConfigError`. */
export function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError({ key: '--config', problem: `cannot read ${file} (${code})` });
  }
  // Loaded here, not at the top: the common environment-only sidecar never reads YAML, and
  // yaml is among the costlier modules to load at start-up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseDocument } = require('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        key: file,
        problem: `YAML: ${e.message.split('\n')[0]}${e.linePos ? ` (line ${e.linePos[0].line})` : ''}`,
      })),
    );
  }
  return doc.toJS() as unknown;
}

/** Beside a file, `LOG_LEVEL` still overrides `log.level` (a Pod turns on debug logs without editing its ConfigMap). */
export function withLogLevelOverride<C extends { readonly log: { readonly level: LogLevel } }>(
  config: C,
  source: ConfigSource,
  env: NodeJS.ProcessEnv,
): C {
  const level = env[LOG_LEVEL_VARIABLE];
  if (!source.fromFile || level === undefined || level === '') return config;
  const parsed = logLevelSchema.safeParse(level);
  if (!parsed.success) {
    throw new ConfigError({ key: LOG_LEVEL_VARIABLE, problem: parsed.error.issues[0].message });
  }
  return { ...config, log: { ...config.log, level: parsed.data } };
}
