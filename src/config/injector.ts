/**
 * The injection webhook's own configuration (`vidispine-auth-proxy inject`): a YAML file
 * (`--config FILE` or `CONFIG_FILE`) or the environment, one schema for both, every key
 * documented where it is declared (the README's tables are generated from it). The
 * `sidecar` block holds the cluster-wide defaults of every injected proxy; pods refine them
 * with annotations.
 */
import { z } from 'zod';
import type { KeyIssue, KeyNames } from './errors';
import { environmentMapping } from './env';
import { key } from './keys';
import {
  configSource,
  type LoadOptions,
  throwIfIssues,
  withLogLevelOverride,
  zodIssues,
} from './load';
import { parseQuantity } from './quantity';
import { fileSchema, type LogLevel, listenSchema } from './schema';
import type { ListenAddress } from './types';

const text = () =>
  z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must not be empty' });

const PROXY_URL = fileSchema.shape.vidispine.shape.url;

/** The proxy's own rule for `vidispine.url`, keeping the text as given. */
export const vidispineUrlText = text().superRefine((value, ctx) => {
  const parsed = PROXY_URL.safeParse(value);
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: parsed.error.issues[0]?.message ?? 'not a URL' });
  }
});

const QUANTITY_PROBLEM = 'must be a Kubernetes quantity (e.g. 250m, 1, 64Mi), or empty for none';

/** A container resource quantity; `null` or empty leaves the request or limit out. */
const quantity = (dflt: string, description: string, env: string) =>
  key(
    z
      .union([z.null(), z.literal(''), text()], { error: QUANTITY_PROBLEM })
      .refine((v) => !v || parseQuantity(v) !== undefined, { error: QUANTITY_PROBLEM })
      .default(dflt),
    { description, env },
  );

export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

export const injectorSchema = z.strictObject({
  webhook: z.strictObject({
    listen: key(listenSchema.prefault('0.0.0.0:8443'), {
      description: 'HTTPS listener for the API server (`POST /mutate`)',
      env: 'WEBHOOK_LISTEN',
    }),
    certFile: key(text(), {
      description:
        'PEM serving certificate (e.g. `tls.crt` of a cert-manager Secret); read again when it changes',
      env: 'WEBHOOK_CERT_FILE',
    }),
    keyFile: key(text(), { description: 'its PEM private key', env: 'WEBHOOK_KEY_FILE' }),
    maxBodyBytes: key(
      z
        .int({ error: 'must be a positive integer' })
        .positive({ error: 'must be a positive integer' })
        .default(4 * 1024 * 1024),
      {
        description:
          'larger AdmissionReview bodies get `413` (the API server stores objects of at most 3 MiB)',
        env: 'WEBHOOK_MAX_BODY_BYTES',
      },
    ),
  }),
  // The proxy's own keys: the same knobs mean the same thing on both programs.
  ops: fileSchema.shape.ops,
  log: fileSchema.shape.log,
  shutdown: fileSchema.shape.shutdown,
  sidecar: z.strictObject({
    image: key(text(), {
      description:
        'the proxy image injected, e.g. `registry.example.com/vidispine-auth-proxy:0.1.0`',
      env: 'SIDECAR_IMAGE',
    }),
    imagePullPolicy: key(
      z
        .enum(PULL_POLICIES, {
          error: `must be ${PULL_POLICIES.join(', ').replace(/, (\w+)$/, ' or $1')}`,
        })
        .default('IfNotPresent'),
      {
        description: "the injected container's `imagePullPolicy`",
        env: 'SIDECAR_IMAGE_PULL_POLICY',
      },
    ),
    vidispineUrl: key(vidispineUrlText.optional(), {
      description:
        'VidiCore base URL for every injected proxy (a pod may set its own); without it, every pod must',
      env: 'SIDECAR_VIDISPINE_URL',
    }),
    resources: z
      .strictObject({
        requests: z
          .strictObject({
            cpu: quantity('25m', "the proxy container's CPU request", 'SIDECAR_CPU_REQUEST'),
            memory: quantity('48Mi', 'its memory request', 'SIDECAR_MEMORY_REQUEST'),
          })
          .prefault({}),
        limits: z
          .strictObject({
            cpu: quantity('500m', 'its CPU limit', 'SIDECAR_CPU_LIMIT'),
            memory: quantity('192Mi', 'its memory limit', 'SIDECAR_MEMORY_LIMIT'),
          })
          .prefault({}),
      })
      .prefault({}),
    admin: z
      .strictObject({
        user: key(text(), {
          description:
            'administrator whose password mints tokens for pods with `credential: admin`',
          env: 'SIDECAR_ADMIN_USER',
        }),
        secret: key(text(), {
          description:
            "Secret holding that password, expected in each pod's namespace (mounted into the proxy, never read by the webhook)",
          env: 'SIDECAR_ADMIN_SECRET',
        }),
        key: key(text().default('password'), {
          description: 'the key of the password in that Secret',
          env: 'SIDECAR_ADMIN_SECRET_KEY',
        }),
      })
      .optional(),
  }),
});

/** A container's `resources`, quantities as Kubernetes writes them. */
export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

/** What every injected proxy gets unless its pod's annotations say otherwise. */
export interface SidecarDefaults {
  readonly image: string;
  readonly imagePullPolicy: PullPolicy;
  /** Absent: every pod must name its Vidispine. */
  readonly vidispineUrl?: string;
  readonly resources: Resources;
  /** Absent: `credential: admin` is refused. */
  readonly admin?: { readonly user: string; readonly secret: string; readonly key: string };
}

export interface InjectorConfig {
  readonly webhook: {
    readonly listen: ListenAddress;
    readonly certFile: string;
    readonly keyFile: string;
    readonly maxBodyBytes: number;
  };
  readonly ops: { readonly listen: ListenAddress | null };
  readonly log: { readonly level: LogLevel };
  readonly shutdown: { readonly delaySeconds: number; readonly drainSeconds: number };
  readonly sidecar: SidecarDefaults;
  /** Keys as the user wrote them (variables or YAML paths), for messages about them. */
  readonly names: KeyNames;
}

const injectorEnvironment = environmentMapping(injectorSchema, () => ({
  webhook: {},
  sidecar: {},
}));

type Raw = z.output<typeof injectorSchema>;

/** The quantities given, or undefined when none is. */
function given(
  quantities: Readonly<Record<string, string | null>>,
): Record<string, string> | undefined {
  const entries = Object.entries(quantities).filter((e): e is [string, string] => !!e[1]);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

function resolve(raw: Raw): Omit<InjectorConfig, 'names'> {
  const { image, imagePullPolicy, vidispineUrl, admin } = raw.sidecar;
  const requests = given(raw.sidecar.resources.requests);
  const limits = given(raw.sidecar.resources.limits);
  return {
    webhook: raw.webhook,
    ops: { listen: typeof raw.ops.listen === 'object' ? raw.ops.listen : null },
    log: raw.log,
    shutdown: raw.shutdown,
    sidecar: {
      image,
      imagePullPolicy,
      ...(vidispineUrl ? { vidispineUrl } : {}),
      resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
      ...(admin ? { admin } : {}),
    },
  };
}

export interface InjectorLoadOptions extends LoadOptions {
  /** Checks beyond the schema (the certificate loads), reported under the same key names. */
  readonly verify?: (config: InjectorConfig) => readonly KeyIssue[];
}

/** The validated configuration; throws `ConfigError` naming each bad key or variable. */
export function loadInjectorConfig(opts: InjectorLoadOptions): InjectorConfig {
  const source = configSource(opts, injectorEnvironment);
  const parsed = injectorSchema.safeParse(source.raw, { reportInput: true });
  const issues = parsed.success ? [] : zodIssues(parsed.error, injectorSchema);
  const config = parsed.success ? { ...resolve(parsed.data), names: source.names } : undefined;
  if (config) issues.push(...(opts.verify?.(config) ?? []));
  throwIfIssues(source, issues);
  return withLogLevelOverride(config as InjectorConfig, source, opts.env);
}
