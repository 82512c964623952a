import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { configFromEnv, envNameFor } from './env';
import { ConfigError, type ConfigIssue, keyPath } from './errors';
import { resolveConfig } from './resolve';
import { fileSchema, logLevelSchema } from './schema';
import type { ProxyConfig } from './types';

/** The variable that names the YAML file when `--config` is not given. */
export const CONFIG_FILE_VARIABLE = 'CONFIG_FILE';

/** The one variable that still applies beside a file, overriding `log.level`. */
const LOG_LEVEL_VARIABLE = envNameFor('log.level');

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
  const file = opts.file ?? (opts.env[CONFIG_FILE_VARIABLE] || undefined);
  if (file === undefined) return validate(configFromEnv(opts.env), opts.env, envNameFor);
  return withLogLevelOverride(
    configFromObject(readYaml(file), opts.env),
    opts.env[LOG_LEVEL_VARIABLE],
  );
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

function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ key: keyPath([...issue.path, k]), problem: 'unknown key' }));
    }
    const problem =
      issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message;
    return [{ key: keyPath(issue.path) || '(top level)', problem }];
  });
}

function readYaml(file: string): unknown {
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

function withLogLevelOverride(config: ProxyConfig, level: string | undefined): ProxyConfig {
  if (level === undefined || level === '') return config;
  const parsed = logLevelSchema.safeParse(level);
  if (!parsed.success) {
    throw new ConfigError({ key: LOG_LEVEL_VARIABLE, problem: parsed.error.issues[0].message });
  }
  return { ...config, log: { level: parsed.data } };
}
