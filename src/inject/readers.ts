/**
 * Each annotation read on its own: its value trimmed, the webhook's default where it is not
 * set, and otherwise a problem that names the annotation and says what to set. Values are
 * held to the proxy's own rules for what its configuration takes, so a pod is refused now
 * rather than its proxy later. A name under the webhook's prefix (or one like it) that is
 * none of its annotations is a problem too: a misspelling would otherwise be ignored.
 */
import type * as z from 'zod';
import {
  ACCOUNT_SECRET_KEYS,
  CA_KEY,
  type CaRef,
  caSource,
  type MintAccount,
  type Resources,
  type SidecarDefaults,
  secretKey,
  secretName,
  vidispineUrlText,
} from '../config/injector';
import { BOOLEAN_WORDS, booleanOfText } from '../config/booleans';
import { HEADER_TEXT } from '../config/resolve';
import { accessKeyId, fileSchema, logLevelSchema, userName } from '../config/schema';
import { aboveLimit, parseQuantity } from '../config/quantity';
import { nearestAmong } from '../config/suggest';
import {
  ANNOTATIONS,
  type AnnotationDoc,
  INJECT_LABEL,
  METRICS_LABEL,
  PREFIX,
} from './annotations';
import { NO_NAMES } from './placement';
import { type AnnotationProblem, shown, visible } from './problems';
import { CONTAINER_NAME, type SidecarCredential } from './sidecar';

const DEFAULT_PORT = 8080;
const DEFAULT_OPS_PORT = 9090;
const DEFAULT_TOKEN_SECONDS = 60;
const DEFAULT_LOG_LEVEL = 'info';

// A C-style env name (what every shell and runtime accepts).
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_URL = 1024;
// The proxy's own rules for what the sidecar is given, and Kubernetes's for the Secret it
// mounts (the webhook's accounts are held to the same), built once: a review must not pay
// for building a schema.
const USER_NAME = userName();
const ACCESS_KEY_ID = accessKeyId();
const TOKEN_SECONDS = fileSchema.shape.token.unwrap().shape.seconds.unwrap();
const SECRET_NAME = secretName();
const SECRET_KEY = secretKey();
/** The CA annotation's word for no CA beyond Node's, even where the webhook names one. */
const NO_CA = 'none';
const CA_SOURCE = caSource(NO_CA);
const VIDISPINE_URL = vidispineUrlText(
  `must not contain credentials: put the password in a Secret and set ${ANNOTATIONS.secret.name} to its name`,
);

/** The pod's annotations as each reader takes them, and where it reports what is wrong. */
export interface Reader {
  /** The annotation's value, trimmed; undefined when not set. */
  get(a: AnnotationDoc): string | undefined;
  problem(a: AnnotationDoc, problem: string): void;
}

/** A reader of `annotations` that adds each problem to `problems`. */
export function readerOf(
  annotations: Readonly<Record<string, string>>,
  problems: AnnotationProblem[],
): Reader {
  return {
    get: (a) => annotations[a.name]?.trim(),
    problem: (a, problem) => problems.push({ annotation: a.name, problem }),
  };
}

const KNOWN = new Set(Object.values(ANNOTATIONS).map((a) => a.name));
const SUFFIXES = [...KNOWN].map((n) => n.slice(PREFIX.length));
const nearestSuffix = nearestAmong(SUFFIXES);
const nearOurPrefix = nearestAmong([PREFIX.slice(0, -1)]);

/**
 * The labels the webhook reads under its prefix, by what they are: written among the
 * annotations, where every other key of the prefix goes, they would be read by no one.
 */
const LABELS: ReadonlyMap<string, string> = new Map([
  [INJECT_LABEL, 'the opt-in label'],
  [METRICS_LABEL, "the label deploy/monitoring's PodMonitor scrapes pods by"],
]);

/** The webhook's annotation `suffix` was most likely meant to be, as a message offers it. */
function meant(suffix: string): string | undefined {
  const guess = nearestSuffix(suffix);
  return guess === undefined ? undefined : PREFIX + guess;
}

/**
 * What is wrong with an annotation's name, if it is (or looks like) one of the webhook's:
 * the label set as an annotation, an unknown name under the prefix, or a misspelt prefix. A
 * misspelling would otherwise be ignored, and the pod started without what it asked for.
 */
function annotationNameProblem(name: string): string | undefined {
  if (KNOWN.has(name)) return undefined;
  const label = LABELS.get(name);
  if (label !== undefined)
    return `${label}, not an annotation: set it in metadata.labels and remove it from metadata.annotations`;
  const slash = name.indexOf('/');
  if (slash < 0) return undefined;
  const ours = name.startsWith(PREFIX);
  // Other tools' annotations are most of a pod's: one comparison of the prefix each.
  if (!ours && nearOurPrefix(name.slice(0, slash)) === undefined) return undefined;
  const guess = meant(name.slice(slash + 1));
  return ours
    ? `unknown annotation (${guess ? `did you mean ${guess}? ` : ''}known: ${SUFFIXES.join(', ')})`
    : `not an annotation of the webhook's (did you mean ${guess ?? `the prefix ${PREFIX}`}?)`;
}

/** A problem for each annotation whose name is (or looks like) the webhook's but is none of them. */
export function misnamedAnnotations(
  annotations: Readonly<Record<string, string>>,
): AnnotationProblem[] {
  const problems: AnnotationProblem[] = [];
  for (const name of Object.keys(annotations)) {
    const problem = annotationNameProblem(name);
    if (problem !== undefined) problems.push({ annotation: visible(name), problem });
  }
  return problems;
}

/** The webhook's annotations a pod sets: its status marker is the webhook's own. */
const SETTINGS: ReadonlySet<string> = new Set(
  [...KNOWN].filter((name) => name !== ANNOTATIONS.status.name),
);

/**
 * A problem for each of the webhook's annotations that the pod set among its labels only,
 * where the webhook never reads one: the pod would be denied for it as missing, or started
 * without it, with no word of where it went. A label beside the annotation itself is the
 * pod's own business (a selector by user, say) and takes nothing from it.
 */
export function labelledAnnotations(
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): AnnotationProblem[] {
  const problems: AnnotationProblem[] = [];
  for (const name of Object.keys(labels)) {
    if (SETTINGS.has(name) && annotations[name] === undefined)
      problems.push({
        annotation: name,
        problem:
          'an annotation, not a label: set it in metadata.annotations and remove it from metadata.labels',
      });
  }
  return problems;
}

/**
 * The annotations whose wrong value may be a secret pasted in the wrong place: those that
 * name where one lives (a Secret, a key in it), the access key's ID (its secret sits beside
 * it in Vidispine's listing) and the credential (a word a password is easily mistaken for).
 * A denial is logged and shown in the events of the ReplicaSet that created the pod, where
 * the pod's annotations are not: it says what is wrong with such a value without quoting it.
 * The CA's (a ConfigMap's or Secret's name and key) are quoted: a CA bundle is public, and
 * seeing `"None"` or `"vidispine-ca"` is what tells the pod's author what to change.
 */
const CONCEALED: ReadonlySet<string> = new Set(
  [ANNOTATIONS.secret, ANNOTATIONS.secretKey, ANNOTATIONS.accessKeyId, ANNOTATIONS.credential].map(
    (a) => a.name,
  ),
);

/** A wrong value as a problem of `a`'s starts with it: quoted, or said to be left out. */
const quoted = (a: AnnotationDoc, value: string): string =>
  CONCEALED.has(a.name) ? 'the value (not shown: it may be a secret)' : shown(value);

/**
 * `value` if `rule` takes `input` (the value as the rule expects it), else undefined and a
 * problem quoting the value (unless it may be a secret) with the rule's own words: a pod is
 * refused now rather than its proxy later.
 */
function byRule<T>(
  r: Reader,
  a: AnnotationDoc,
  rule: z.ZodType<T>,
  value: string,
  input: unknown = value,
): T | undefined {
  const parsed = rule.safeParse(input);
  if (parsed.success) return parsed.data;
  r.problem(a, `${quoted(a, value)} ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
  return undefined;
}

export function readUser(r: Reader): string | undefined {
  const a = ANNOTATIONS.user;
  const user = r.get(a);
  if (!user) {
    r.problem(a, 'required: set it to the Vidispine user whose token the proxy attaches');
    return undefined;
  }
  return byRule(r, a, USER_NAME, user);
}

export function readUrl(r: Reader, defaults: SidecarDefaults): string | undefined {
  const a = ANNOTATIONS.vidispineUrl;
  const value = r.get(a);
  if (value === undefined) {
    // The webhook's own URL passed the same rule when its configuration was loaded.
    if (defaults.vidispineUrl !== undefined) return defaults.vidispineUrl;
    r.problem(
      a,
      'required (the webhook has no sidecar.vidispineUrl): set it to the VidiCore base URL, e.g. http://vidispine.media.svc:8080',
    );
    return undefined;
  }
  if (value === '') {
    const fallback = defaults.vidispineUrl
      ? ", or remove it for the webhook's sidecar.vidispineUrl"
      : '';
    r.problem(
      a,
      `empty: set the VidiCore base URL (e.g. http://vidispine.media.svc:8080)${fallback}`,
    );
    return undefined;
  }
  if (value.length > MAX_URL) {
    r.problem(a, `longer than ${MAX_URL} characters: set the VidiCore base URL`);
    return undefined;
  }
  // The proxy's own rule for vidispine.url, so a pod is refused now rather than its proxy later.
  const parsed = VIDISPINE_URL.safeParse(value);
  if (!parsed.success) r.problem(a, parsed.error.issues[0]?.message ?? 'is not a base URL');
  return parsed.success ? value : undefined;
}

/** The pod's CA, the webhook's default, or none; a problem names what to set. */
export function readCa(r: Reader, defaults: SidecarDefaults): CaRef | undefined {
  const a = ANNOTATIONS.vidispineCa;
  const value = r.get(a);
  const key = r.get(ANNOTATIONS.vidispineCaKey);
  if (value === NO_CA) {
    if (key !== undefined)
      r.problem(
        ANNOTATIONS.vidispineCaKey,
        `not used with ${a.name}: ${NO_CA} (no CA is mounted): remove it`,
      );
    return undefined;
  }
  if (value === undefined) {
    if (key !== undefined) {
      r.problem(
        ANNOTATIONS.vidispineCaKey,
        `only used with ${a.name} (the webhook's default names its own key): remove it, or set ${a.name} too`,
      );
    }
    return defaults.vidispineCa;
  }
  const source = byRule(r, a, CA_SOURCE, value);
  if (key === '') {
    r.problem(
      ANNOTATIONS.vidispineCaKey,
      `empty: set the key that holds the CA bundle, or remove it for the default (${CA_KEY})`,
    );
    return undefined;
  }
  const validKey = byRule(r, ANNOTATIONS.vidispineCaKey, SECRET_KEY, key ?? CA_KEY);
  return source && validKey !== undefined ? { ...source, key: validKey } : undefined;
}

/** The webhook's accounts that mint for pods, by the `credential` value that picks each. */
const ACCOUNTS = {
  admin: { setting: 'sidecar.admin', pick: (d: SidecarDefaults) => d.admin, kind: 'admin' },
  runas: { setting: 'sidecar.runAs', pick: (d: SidecarDefaults) => d.runAs, kind: 'runAs' },
} as const satisfies Record<
  string,
  {
    setting: string;
    pick: (d: SidecarDefaults) => MintAccount | undefined;
    kind: SidecarCredential['kind'];
  }
>;

/**
 * The `credential` values of the webhook's accounts that it has configured: a pod may be
 * pointed at these alone, as one the webhook lacks is refused in turn.
 */
function configuredAccounts(defaults: SidecarDefaults): (keyof typeof ACCOUNTS)[] {
  return (Object.keys(ACCOUNTS) as (keyof typeof ACCOUNTS)[]).filter(
    (mode) => ACCOUNTS[mode].pick(defaults) !== undefined,
  );
}

const SECRET_KEYS = {
  password: ACCOUNT_SECRET_KEYS.password,
  'access-key': ACCOUNT_SECRET_KEYS.accessKey,
} as const;

function readSecretRef(
  r: Reader,
  mode: 'password' | 'access-key',
  defaults: SidecarDefaults,
): { secret: string; key: string } | undefined {
  const secret = r.get(ANNOTATIONS.secret);
  const key = r.get(ANNOTATIONS.secretKey) ?? SECRET_KEYS[mode];
  const what = mode === 'password' ? "the user's password" : "the access key's secret";
  // Not `credential ${mode}: …`: the log blanks what follows `access-key:` as a secret's value.
  const credential = mode === 'password' ? 'a password credential' : 'an access-key credential';
  if (!secret) {
    const accounts = configuredAccounts(defaults);
    // The account's own Secret is mounted instead: these would each earn a denial in turn.
    const kept = [ANNOTATIONS.accessKeyId, ANNOTATIONS.secretKey].filter(
      (own) => r.get(own) !== undefined,
    );
    const remove = kept.length > 0 ? `, and remove ${kept.map((a) => a.name).join(' and ')}` : '';
    const instead =
      accounts.length > 0
        ? ` (or set ${ANNOTATIONS.credential.name}: ${accounts.join(' or ')} for tokens minted by the webhook's account${remove})`
        : '';
    r.problem(
      ANNOTATIONS.secret,
      `required for ${credential}: set it to the name of the Secret holding ${what}${instead}`,
    );
  }
  const name = secret ? byRule(r, ANNOTATIONS.secret, SECRET_NAME, secret) : undefined;
  if (key === '') {
    r.problem(
      ANNOTATIONS.secretKey,
      `empty: set the key in the Secret that holds ${what}, or remove it for the default (${SECRET_KEYS[mode]})`,
    );
    return undefined;
  }
  const validKey = byRule(r, ANNOTATIONS.secretKey, SECRET_KEY, key);
  return name !== undefined && validKey !== undefined ? { secret: name, key: validKey } : undefined;
}

function readAccessKeyId(r: Reader): string | undefined {
  const a = ANNOTATIONS.accessKeyId;
  const id = r.get(a);
  if (!id) {
    r.problem(
      a,
      "required for an access-key credential: set it to the key's ID as Vidispine shows it (e.g. VSID2C56CQTA7DWW7DLF); the Secret holds its secret",
    );
    return undefined;
  }
  return byRule(r, a, ACCESS_KEY_ID, id);
}

const CREDENTIALS = ['password', 'access-key', 'admin', 'runas'] as const;

export function readCredential(
  r: Reader,
  defaults: SidecarDefaults,
): SidecarCredential | undefined {
  const a = ANNOTATIONS.credential;
  const mode = r.get(a) ?? 'password';
  if (mode !== 'access-key' && r.get(ANNOTATIONS.accessKeyId) !== undefined) {
    // The pod's mode is named only when it is one: any other value may be a pasted password.
    const its = (CREDENTIALS as readonly string[]).includes(mode) ? mode : 'not access-key';
    r.problem(
      ANNOTATIONS.accessKeyId,
      `only used with credential access-key (this pod's is ${its}): remove it, or set ${a.name}: access-key`,
    );
  }
  if (mode === 'password') {
    const ref = readSecretRef(r, mode, defaults);
    return ref && { kind: 'password', ...ref };
  }
  if (mode === 'access-key') {
    const id = readAccessKeyId(r);
    const ref = readSecretRef(r, mode, defaults);
    return id !== undefined && ref ? { kind: 'accessKey', id, ...ref } : undefined;
  }
  if (mode === 'admin' || mode === 'runas') {
    const { setting, pick, kind } = ACCOUNTS[mode];
    for (const other of [ANNOTATIONS.secret, ANNOTATIONS.secretKey]) {
      if (r.get(other) !== undefined) {
        r.problem(
          other,
          `not used with credential ${mode} (the webhook's ${setting} Secret is mounted): remove it`,
        );
      }
    }
    const account = pick(defaults);
    if (!account) {
      const other = configuredAccounts(defaults).find((m) => m !== mode);
      r.problem(
        a,
        `${mode} is not available: the webhook has no ${setting} account configured; use password or access-key with a Secret${other ? `, or ${other}` : ''}`,
      );
      return undefined;
    }
    return { kind, account };
  }
  r.problem(a, `${quoted(a, mode)} is not one of ${CREDENTIALS.join(', ')}`);
  return undefined;
}

// Kubernetes's rule for a container's name (a DNS label).
const CONTAINER_NAME_RULE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_CONTAINER_NAME = 63;

/** The containers the pod names; the first wrong name is a problem, and none are used then. */
export function readStartAfter(r: Reader): ReadonlySet<string> {
  const a = ANNOTATIONS.startAfter;
  const value = r.get(a);
  if (value === undefined) return NO_NAMES;
  if (value === '') {
    r.problem(
      a,
      'empty: list the init containers the proxy starts after (e.g. kuma-init,kuma-sidecar), or remove it',
    );
    return NO_NAMES;
  }
  const names = value.split(',').map((name) => name.trim());
  const problem = (name: string): string | undefined => {
    if (name === '') return `${shown(value)} has an empty name: separate the names by one comma`;
    if (name === CONTAINER_NAME)
      return `${shown(name)} is the proxy itself: list the containers it starts after`;
    if (name.length > MAX_CONTAINER_NAME || !CONTAINER_NAME_RULE.test(name))
      return `${shown(name)} is not a container name (lower-case letters, digits and -, at most ${MAX_CONTAINER_NAME} characters)`;
    return undefined;
  };
  for (const name of names) {
    const found = problem(name);
    if (found !== undefined) {
      r.problem(a, found);
      return NO_NAMES;
    }
  }
  return new Set(names);
}

function readPort(r: Reader, a: AnnotationDoc, fallback: number): number {
  const value = r.get(a);
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    r.problem(a, `${shown(value)} is not a port: set a number from 1 to 65535`);
    return fallback;
  }
  return port;
}

/** The data and ops ports the pod asks for, each its default when unset or wrong. */
export function readPorts(r: Reader): { readonly port: number; readonly opsPort: number } {
  return {
    port: readPort(r, ANNOTATIONS.port, DEFAULT_PORT),
    opsPort: readPort(r, ANNOTATIONS.opsPort, DEFAULT_OPS_PORT),
  };
}

export function readTokenSeconds(r: Reader): number {
  const a = ANNOTATIONS.tokenSeconds;
  const value = r.get(a);
  if (value === undefined) return DEFAULT_TOKEN_SECONDS;
  if (!/^\d+$/.test(value)) {
    r.problem(a, `${shown(value)} is not a positive whole number of seconds (e.g. 60)`);
    return DEFAULT_TOKEN_SECONDS;
  }
  // Digits past what a number holds exactly are far over the limit: the rule is shown one
  // that is too, not the inexact one it would refuse as no integer at all.
  const seconds = Number(value);
  const exact = Number.isSafeInteger(seconds) ? seconds : Number.MAX_SAFE_INTEGER;
  return byRule(r, a, TOKEN_SECONDS, value, exact) ?? DEFAULT_TOKEN_SECONDS;
}

export function readBoolean(r: Reader, a: AnnotationDoc, fallback: boolean): boolean {
  const value = r.get(a);
  if (value === undefined) return fallback;
  const parsed = booleanOfText(value);
  if (parsed === undefined) r.problem(a, `${shown(value)} is not a boolean: set ${BOOLEAN_WORDS}`);
  return parsed ?? fallback;
}

export function readLogLevel(r: Reader): string {
  const a = ANNOTATIONS.logLevel;
  const value = r.get(a);
  if (value === undefined) return DEFAULT_LOG_LEVEL;
  return byRule(r, a, logLevelSchema, value) ?? DEFAULT_LOG_LEVEL;
}

const RESOURCE_ANNOTATIONS = [
  [ANNOTATIONS.cpuRequest, 'requests', 'cpu'],
  [ANNOTATIONS.cpuLimit, 'limits', 'cpu'],
  [ANNOTATIONS.memoryRequest, 'requests', 'memory'],
  [ANNOTATIONS.memoryLimit, 'limits', 'memory'],
] as const;

const RESOURCE_PAIRS = {
  cpu: { request: ANNOTATIONS.cpuRequest, limit: ANNOTATIONS.cpuLimit },
  memory: { request: ANNOTATIONS.memoryRequest, limit: ANNOTATIONS.memoryLimit },
} as const;
const DEFAULT = " (the webhook's default)";

/**
 * A request above its limit, told on the annotation the pod set (the request where it set
 * both), the other value called the webhook's default where it is one: a pod that set only
 * `cpu-limit: 10m` is told of its limit, not of a `cpu-request` it never wrote.
 */
function requestAboveLimit(
  resource: 'cpu' | 'memory',
  request: string,
  requestSet: boolean,
  limit: string,
  limitSet: boolean,
): [AnnotationDoc, string] {
  const pair = RESOURCE_PAIRS[resource];
  if (!requestSet)
    return [
      pair.limit,
      `${limit} is below the ${resource} request ${request}${DEFAULT}: raise it or set ${pair.request.name}`,
    ];
  return [
    pair.request,
    limitSet
      ? `${request} is above the ${resource} limit ${limit}: lower it or raise ${pair.limit.name}`
      : `${request} is above the ${resource} limit ${limit}${DEFAULT}: lower it or set ${pair.limit.name}`,
  ];
}

/**
 * The defaults with each annotation's quantity laid over them; a request above its limit is
 * refused, as Kubernetes would. A pod that sets none gets the defaults themselves, which the
 * configuration already held to the same rule.
 */
export function readResources(r: Reader, defaults: Resources): Resources {
  const requests: Record<string, string> = { ...defaults.requests };
  const limits: Record<string, string> = { ...defaults.limits };
  const changed = new Set<'cpu' | 'memory'>();
  /** `${kind}.${resource}` the pod set: a message names those, and calls the others defaults. */
  const set = new Set<string>();
  for (const [a, kind, resource] of RESOURCE_ANNOTATIONS) {
    const value = r.get(a);
    if (value === undefined) continue;
    if (parseQuantity(value) === undefined) {
      r.problem(
        a,
        `${shown(value)} is not a Kubernetes quantity (e.g. ${resource === 'cpu' ? '250m or 1' : '64Mi or 1Gi'})`,
      );
      continue;
    }
    (kind === 'requests' ? requests : limits)[resource] = value;
    changed.add(resource);
    set.add(`${kind}.${resource}`);
  }
  if (changed.size === 0) return defaults;
  for (const resource of changed) {
    const request = requests[resource];
    const limit = limits[resource];
    if (request !== undefined && limit !== undefined && aboveLimit(request, limit)) {
      const [requestSet, limitSet] = [
        set.has(`requests.${resource}`),
        set.has(`limits.${resource}`),
      ];
      r.problem(
        ...requestAboveLimit(resource, visible(request), requestSet, visible(limit), limitSet),
      );
    }
  }
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

/**
 * The RunAs account names the user in a header, which carries Latin-1 text only: a user
 * beyond it needs a credential of its own.
 */
export function checkRunAsUser(
  r: Reader,
  user: string | undefined,
  credential: SidecarCredential | undefined,
): void {
  if (user !== undefined && credential?.kind === 'runAs' && !HEADER_TEXT.test(user)) {
    r.problem(
      ANNOTATIONS.user,
      `${shown(user)} cannot be sent in a RunAs header (only Latin-1 characters): give the user its own credential (password or access-key)`,
    );
  }
}

/** The variable the app containers are given the proxy's URL in, if the pod names one. */
export function readEnvName(r: Reader): string | undefined {
  const envName = r.get(ANNOTATIONS.env);
  if (envName !== undefined && !ENV_NAME.test(envName)) {
    r.problem(
      ANNOTATIONS.env,
      `${shown(envName)} is not an environment variable name (e.g. VIDISPINE_API)`,
    );
  }
  return envName;
}
