/**
 * The injection webhook's own configuration (`vidispine-auth-proxy inject`): a YAML file
 * (`--config FILE` or `CONFIG_FILE`) or the environment, one schema for both, every key
 * documented where it is declared (the README's tables are generated from it). The
 * `sidecar` block holds the cluster-wide defaults of every injected proxy; pods refine them
 * with annotations.
 */
import { shownValue } from '../visible-text';
import * as z from 'zod';
import { alternatives, type KeyIssue, type KeyNames, type KeyPath, type Problem } from './errors';
import { environmentMapping } from './env';
import { imageReferenceProblem } from './image-reference';
import { key, keyValueAt, rawAt } from './keys';
import { listenersCollide } from './listen';
import {
  type ConfigSource,
  configSource,
  defaultedIn,
  type LoadOptions,
  misspeltParts,
  valueOrThrow,
  withoutEmptyBlocks,
  withLogLevelOverride,
  zodIssues,
} from './load';
import { aboveLimit, parseQuantity } from './quantity';
import { listenerClash } from './resolve';
import {
  accessKeyId,
  addProblem,
  boundedInt,
  fileSchema,
  hasCredentials,
  type LogLevel,
  listenSchema,
  userName,
} from './schema';
import { exceptFollowingUnsound, soundParts, type StandIns } from './sound-parts';
import type { ListenAddress } from './types';

const text = () =>
  z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must not be empty' });

const PROXY_URL = fileSchema.shape.vidispine.shape.url;

/**
 * The proxy's own rule for `vidispine.url`, keeping the text as given. A URL with credentials
 * is told `credentials` instead of the proxy's advice (its `users[0].password`, a key neither
 * a pod nor the webhook has).
 */
export const vidispineUrlText = (credentials: Problem) =>
  text().superRefine((value, ctx) => {
    if (URL.canParse(value) && hasCredentials(new URL(value))) {
      addProblem(ctx, credentials);
      return;
    }
    const parsed = PROXY_URL.safeParse(value);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: parsed.error.issues[0]?.message ?? 'not a URL' });
    }
  });

const URL_CREDENTIALS: Problem = (names) =>
  `must not contain credentials: put the password in a Secret, named per pod by the vidispine-auth-proxy/secret annotation or for the webhook's accounts by ${alternatives(
    names,
    [
      ['sidecar', 'admin', 'secret'],
      ['sidecar', 'runAs', 'secret'],
    ],
  )}`;

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

/**
 * A request above its limit is refused here, as Kubernetes would refuse every pod given it:
 * the webhook then never re-checks its own defaults per review, only what a pod changes.
 */
function requestsWithinLimits(
  resources: {
    requests: Record<'cpu' | 'memory', string | null>;
    limits: Record<'cpu' | 'memory', string | null>;
  },
  ctx: z.RefinementCtx,
): void {
  for (const resource of ['cpu', 'memory'] as const) {
    const request = resources.requests[resource];
    const limit = resources.limits[resource];
    if (request && limit && aboveLimit(request, limit)) {
      ctx.addIssue({
        code: 'custom',
        path: ['requests', resource],
        message: `${shownValue(request)} is above the ${resource} limit ${shownValue(limit)}: lower it or raise the limit`,
      });
    }
  }
}

/** The proxy image every labelled pod gets: one that no pod could pull is refused at start. */
const sidecarImage = () =>
  text().superRefine((ref, ctx) => {
    const problem = imageReferenceProblem(ref);
    if (problem !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${shownValue(ref)}" is not an image reference ([registry[:port]/]path[:tag][@digest]): ${problem}`,
      });
    }
  });

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes's rule for a Secret's name (a DNS subdomain): no pod could mount another. */
export const secretName = () =>
  text().max(253, { error: 'must be at most 253 characters' }).regex(DNS_SUBDOMAIN, {
    error:
      "must be a Secret name: lower-case letters, digits, '-' and '.' (a DNS subdomain, e.g. vidispine-admin)",
  });

/**
 * Kubernetes's rule for a key in a Secret. The key is also the name of the file the proxy
 * reads in the Secret's mount, so `.` or `..` would name a folder instead.
 */
export const secretKey = () =>
  text()
    .max(253, { error: 'must be at most 253 characters' })
    .regex(/^[-._a-zA-Z0-9]+$/, {
      error: "must be a Secret key: letters, digits, '-', '_' and '.'",
    })
    .refine((k) => k !== '.' && !k.startsWith('..'), {
      error: "must not be '.' or begin with '..'",
    });

/** A PEM CA bundle by reference: a key of a ConfigMap or a Secret in the pod's namespace. */
export interface CaRef {
  readonly kind: 'configMap' | 'secret';
  readonly name: string;
  readonly key: string;
}

const CA_KINDS = { configmap: 'configMap', secret: 'secret' } as const;
const CA_SOURCE = /^(configmap|secret)\/(.*)$/;
/** The key a CA bundle is read from unless one is named (cert-manager's, trust-manager's, kube-root-ca.crt's). */
export const CA_KEY = 'ca.crt';

/**
 * `configmap/NAME` or `secret/NAME`, as kubectl names objects: where an injected proxy's
 * extra CA for Vidispine is (`VIDISPINE_CA_FILE`), mounted read-only, never read here.
 * `none` names the word a caller takes besides them (the annotation's), which the message
 * then offers too; the caller reads it before this rule.
 */
export const caSource = (none?: string) => {
  const name = secretName();
  const forms =
    none === undefined ? 'configmap/NAME or secret/NAME' : `configmap/NAME, secret/NAME or ${none}`;
  return text().transform((value, ctx) => {
    const match = CA_SOURCE.exec(value);
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `must be ${forms} (e.g. configmap/vidispine-ca)` });
      return z.NEVER;
    }
    const kind = CA_KINDS[match[1] as keyof typeof CA_KINDS];
    const parsed = name.safeParse(match[2]);
    if (!parsed.success) {
      const what = kind === 'configMap' ? 'ConfigMap' : 'Secret';
      ctx.addIssue({
        code: 'custom',
        message: `names no valid ${what}: after ${match[1]}/ lower-case letters, digits, '-' and '.' (a DNS subdomain)`,
      });
      return z.NEVER;
    }
    return { kind, name: parsed.data };
  });
};

/**
 * Pull secrets by name, added to each injected pod: a private registry's image is pulled
 * with the pod's own `imagePullSecrets`, which an app pulling from elsewhere lacks. A YAML
 * list, or names separated by commas (the environment's form). Each name once: the API
 * server warns of a duplicate name in every pod that lists one twice.
 */
const SECRET_NAME = secretName();
const pullSecrets = z
  .union([z.array(z.string()), z.string()], {
    error: 'must be a list of Secret names, or names separated by commas',
  })
  .transform((v) => [
    ...new Set((typeof v === 'string' ? v.split(',') : v).map((n) => n.trim()).filter(Boolean)),
  ])
  // Each name checked here, so a problem names the setting (an element has no variable).
  .superRefine((names, ctx) => {
    for (const name of names) {
      const parsed = SECRET_NAME.safeParse(name);
      if (!parsed.success)
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(shownValue(name))} ${parsed.error.issues[0]?.message ?? 'is no Secret name'}`,
        });
    }
  })
  .default([]);

/**
 * An account that mints for the pods that ask for it: its name, and the Secret (expected in
 * each pod's namespace) holding its password or, with `accessKeyId`, an access key's secret.
 */
const mintAccount = (description: string, env: string) =>
  z
    .strictObject({
      // The proxy's own rule for the account's name (VIDISPINE_ADMIN_USER and _RUNAS_USER).
      user: key(userName(), { description, env: `${env}_USER` }),
      secret: key(secretName(), {
        description:
          "Secret holding its password or access key secret, expected in each pod's namespace (mounted into the proxy, never read by the webhook)",
        env: `${env}_SECRET`,
      }),
      key: key(secretKey().optional(), {
        description: 'the key of the password (or access key secret) in that Secret',
        env: `${env}_SECRET_KEY`,
        defaultText: '`password`; `access-key` with an access key ID',
      }),
      accessKeyId: key(accessKeyId().optional(), {
        description:
          "the account's access key ID (`VSID…`): it then authenticates with that key (its secret in the Secret) instead of a password",
        env: `${env}_ACCESS_KEY_ID`,
      }),
    })
    .optional();

/** The Secret key an account's credential is read from unless one is named. */
export const ACCOUNT_SECRET_KEYS = { password: 'password', accessKey: 'access-key' } as const;

export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** The image's user (`nonroot`): its files and the compile cache are built for it. */
const IMAGE_UID = 65532;
const MAX_UID = 2147483647;
const UID_PROBLEM = `must be a user ID from 1 to ${MAX_UID}, or empty for none (the platform assigns one)`;

/**
 * The injected container's `runAsUser` (and `runAsGroup`), or null to leave both out: a
 * platform that assigns a user per namespace (OpenShift's restricted-v2 SCC) refuses any
 * other. A number in YAML, digits in the environment.
 */
const uid = z
  .union(
    [
      z.null(),
      z.literal(''),
      z.int({ error: UID_PROBLEM }),
      z.string().regex(/^\d+$/, { error: UID_PROBLEM }),
    ],
    {
      error: UID_PROBLEM,
    },
  )
  .transform((v) => (v === null || v === '' ? null : Number(v)))
  .refine((v) => v === null || (v >= 1 && v <= MAX_UID), { error: UID_PROBLEM })
  .default(IMAGE_UID);
export type PullPolicy = (typeof PULL_POLICIES)[number];

/**
 * The longest string V8 makes (`buffer.constants.MAX_STRING_LENGTH` on 64-bit, Node 20 to
 * 24): a body beyond it can never be decoded as JSON, so a larger limit only lets a request
 * hold memory it cannot use before its 400.
 */
const MAX_BODY_BYTES = 536_870_888;

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
      boundedInt(
        1,
        MAX_BODY_BYTES,
        `must be at most ${MAX_BODY_BYTES} (the longest text Node can make: a larger body could never be read as JSON)`,
      ).default(4 * 1024 * 1024),
      {
        description: `larger AdmissionReview bodies get \`413\` (the API server stores objects of at most 3 MiB; at most ${MAX_BODY_BYTES})`,
        env: 'WEBHOOK_MAX_BODY_BYTES',
      },
    ),
  }),
  // The proxy's own keys: the same knobs mean the same thing on both programs.
  ops: fileSchema.shape.ops,
  log: fileSchema.shape.log,
  shutdown: fileSchema.shape.shutdown,
  sidecar: z.strictObject({
    image: key(sidecarImage(), {
      description:
        'the proxy image injected, e.g. `registry.example.com/vidispine-auth-proxy:0.1.0`: `[registry[:port]/]path[:tag][@digest]`, lower-case path (one no pod could pull is refused)',
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
    vidispineUrl: key(vidispineUrlText(URL_CREDENTIALS).optional(), {
      description:
        'VidiCore base URL for every injected proxy (a pod may set its own); without it, every pod must',
      env: 'SIDECAR_VIDISPINE_URL',
    }),
    vidispineCa: key(caSource().optional(), {
      description:
        "extra PEM CA bundle for an https Vidispine, for every injected proxy (a pod may set its own or none): `configmap/NAME` or `secret/NAME`, expected in each pod's namespace, mounted into the proxy (`VIDISPINE_CA_FILE`), never read by the webhook",
      env: 'SIDECAR_VIDISPINE_CA',
    }),
    // No default here: a key given without its CA is refused (parseInjectorConfig).
    vidispineCaKey: key(secretKey().optional(), {
      description: 'the key of the CA bundle in that ConfigMap or Secret',
      env: 'SIDECAR_VIDISPINE_CA_KEY',
      defaultText: `\`${CA_KEY}\``,
    }),
    imagePullSecrets: key(pullSecrets, {
      description:
        "Secrets (in each pod's namespace) to pull the proxy image with, added to the pod's `imagePullSecrets`; a list, or names separated by commas",
      env: 'SIDECAR_IMAGE_PULL_SECRETS',
      defaultText: "— (the pod's own)",
    }),
    uid: key(uid, {
      description:
        "the injected container's user and group ID (`runAsUser`, `runAsGroup`); empty (`null` in YAML) leaves both out for the platform to assign, as OpenShift's `restricted-v2` requires (`runAsNonRoot` stays)",
      env: 'SIDECAR_UID',
    }),
    resources: z
      .strictObject({
        requests: z
          .strictObject({
            cpu: quantity(
              '25m',
              "the proxy container's CPU request (at most its limit)",
              'SIDECAR_CPU_REQUEST',
            ),
            memory: quantity(
              '96Mi',
              'its memory request (at most its limit)',
              'SIDECAR_MEMORY_REQUEST',
            ),
          })
          .prefault({}),
        limits: z
          .strictObject({
            cpu: quantity('500m', 'its CPU limit', 'SIDECAR_CPU_LIMIT'),
            memory: quantity('192Mi', 'its memory limit', 'SIDECAR_MEMORY_LIMIT'),
          })
          .prefault({}),
      })
      .superRefine(requestsWithinLimits)
      .prefault({}),
    admin: mintAccount(
      'administrator that mints tokens for pods with `credential: admin` (`GET /API/user/{user}/token`)',
      'SIDECAR_ADMIN',
    ),
    runAs: mintAccount(
      'service account with the `_runas` role that mints tokens for pods with `credential: runas` (`GET /API/token` + `RunAs: {user}`)',
      'SIDECAR_RUNAS',
    ),
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
  /** Absent: no CA beyond Node's, unless a pod names one. */
  readonly vidispineCa?: CaRef;
  /** Added to each injected pod's `imagePullSecrets` (by name, never read). */
  readonly imagePullSecrets: readonly string[];
  /** The container's user and group; null: the platform assigns them. */
  readonly uid: number | null;
  readonly resources: Resources;
  /** Absent: `credential: admin` is refused. */
  readonly admin?: MintAccount;
  /** Absent: `credential: runas` is refused. */
  readonly runAs?: MintAccount;
}

/** An account minting for pods, its credential by reference (never read by the webhook). */
export interface MintAccount {
  readonly user: string;
  /** The Secret, in the pod's namespace, and the key in it. */
  readonly secret: string;
  readonly key: string;
  /** Present: the key holds this access key's secret; absent: the account's password. */
  readonly accessKeyId?: string;
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

function resolveAccount(raw: Raw['sidecar']['admin']): MintAccount | undefined {
  if (raw === undefined) return undefined;
  const { accessKeyId, key, ...rest } = raw;
  const secretKey = key ?? ACCOUNT_SECRET_KEYS[accessKeyId ? 'accessKey' : 'password'];
  return { ...rest, key: secretKey, ...(accessKeyId ? { accessKeyId } : {}) };
}

function resolve(raw: Raw): Omit<InjectorConfig, 'names'> {
  const {
    image,
    imagePullPolicy,
    imagePullSecrets,
    vidispineUrl,
    vidispineCa,
    vidispineCaKey,
    uid,
  } = raw.sidecar;
  const admin = resolveAccount(raw.sidecar.admin);
  const runAs = resolveAccount(raw.sidecar.runAs);
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
      imagePullSecrets,
      ...(vidispineUrl ? { vidispineUrl } : {}),
      ...(vidispineCa ? { vidispineCa: { ...vidispineCa, key: vidispineCaKey ?? CA_KEY } } : {}),
      uid,
      resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
      ...(admin ? { admin } : {}),
      ...(runAs ? { runAs } : {}),
    },
  };
}

/** The validated configuration; throws `ConfigError` naming each bad key or variable. */
export function loadInjectorConfig(opts: LoadOptions): InjectorConfig {
  return checkedInjectorConfig(parseInjectorConfig(opts), [], opts.env);
}

/** A configuration as read, before the checks beyond the schema: `config` if it fits it. */
export interface ParsedInjectorConfig {
  readonly source: ConfigSource;
  readonly config?: InjectorConfig;
  readonly issues: readonly KeyIssue[];
  /**
   * The serving pair's files, where both their keys are sound, whether the rest fits the
   * schema or not: loaded either way, so that one start names every problem.
   */
  readonly pair?: { readonly certFile: string; readonly keyFile: string };
}

/** The files `webhook.certFile` and `webhook.keyFile` name, if each is sound on its own. */
function pairOf(raw: unknown): ParsedInjectorConfig['pair'] {
  const certFile = keyValueAt(injectorSchema, raw, ['webhook', 'certFile']);
  const keyFile = keyValueAt(injectorSchema, raw, ['webhook', 'keyFile']);
  return typeof certFile === 'string' && typeof keyFile === 'string'
    ? { certFile, keyFile }
    : undefined;
}

/**
 * The configuration `opts` describe, checked against the schema and a CA's key against its
 * CA: for checks beyond them, reported with their problems by `checkedInjectorConfig`
 * (`inject` loads its serving pair).
 */
export function parseInjectorConfig(opts: LoadOptions): ParsedInjectorConfig {
  const source = configSource(opts, injectorEnvironment);
  const raw = withoutEmptyBlocks(source.raw, injectorSchema);
  const parsed = injectorSchema.safeParse(raw, { reportInput: true });
  const pair = pairOf(raw);
  const isDefault = defaultedIn(source, raw);
  // Read as written, so it is named beside the schema's problems rather than after them.
  const orphan = orphanCaKey(raw, source.names);
  // A misspelt variable's key (`OPS_LISTN`) is left to its default: no clash with that.
  const meant = misspeltParts(source);
  if (!parsed.success) {
    const sound = soundParts(injectorSchema, raw, INJECTOR_STAND_INS);
    const clash = sound
      ? exceptFollowingUnsound(
          listenerIssues(sound.value, isDefault),
          [...sound.unsound, ...meant],
          raw,
        )
      : [];
    return {
      source,
      pair,
      issues: [...zodIssues(parsed.error, injectorSchema), ...clash, ...orphan],
    };
  }
  const clash = exceptFollowingUnsound(listenerIssues(parsed.data, isDefault), meant, raw);
  // No configuration beside a clash: the pair is then read as beside any bad key (bounded).
  if (clash.length > 0) return { source, pair, issues: [...clash, ...orphan] };
  return { source, pair, config: { ...resolve(parsed.data), names: source.names }, issues: orphan };
}

/**
 * Stand-ins for the required keys no rule across keys reads, so that a configuration lacking
 * them is still judged on its listeners.
 */
const INJECTOR_STAND_INS: StandIns = {
  webhook: { certFile: '/stand-in', keyFile: '/stand-in' },
  'webhook.certFile': '/stand-in',
  'webhook.keyFile': '/stand-in',
  sidecar: { image: 'stand-in' },
  'sidecar.image': 'stand-in',
};

/**
 * The webhook and its ops listener on one address: the second would fail to bind (exit 1,
 * naming no key), so it is a configuration error, worded as the proxy's listeners' are.
 */
function listenerIssues(raw: Raw, isDefault: (path: KeyPath) => boolean): KeyIssue[] {
  const ops = raw.ops.listen;
  if (ops === null || typeof ops !== 'object') return [];
  const webhook = { path: ['webhook', 'listen'], address: raw.webhook.listen };
  if (!listenersCollide(webhook.address, ops)) return [];
  return [listenerClash(webhook, { path: ['ops', 'listen'], address: ops }, isDefault)];
}

/**
 * The CA's key given without the CA: it would name a key in nothing, and every pod would get
 * no CA while the setting said otherwise (a pod's annotation is refused the same way).
 */
function orphanCaKey(raw: unknown, names: KeyNames): KeyIssue[] {
  if (rawAt(raw, ['sidecar', 'vidispineCaKey']) === undefined) return [];
  if (rawAt(raw, ['sidecar', 'vidispineCa']) !== undefined) return [];
  return [
    {
      path: ['sidecar', 'vidispineCaKey'],
      problem: `is set without ${names.name(['sidecar', 'vidispineCa'])}: set the ConfigMap or Secret holding the CA too, or remove it`,
    },
  ];
}

/**
 * The configuration `parsed` holds, once `verified` (the problems the checks beyond the
 * schema found) are none; else a `ConfigError` naming every problem.
 */
export function checkedInjectorConfig(
  { source, config, issues }: ParsedInjectorConfig,
  verified: readonly KeyIssue[],
  env: NodeJS.ProcessEnv,
): InjectorConfig {
  const all = [...issues, ...verified];
  const checked = valueOrThrow<InjectorConfig>(source, config && all.length === 0 ? config : all);
  return withLogLevelOverride(checked, source, env);
}
