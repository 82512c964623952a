/**
 * What a pod asks for: the opt-in label and the annotations that configure its sidecar,
 * each documented once here (the README's table is generated from `ANNOTATIONS` and a test
 * keeps it current), and the rules that turn them into `SidecarSettings` or into problems
 * that name the annotation and say what to set.
 */
import type * as z from 'zod';
import {
  ACCOUNT_SECRET_KEYS,
  CA_KEY,
  type CaRef,
  caSource,
  type MintAccount,
  type SidecarDefaults,
  secretKey,
  secretName,
  vidispineUrlText,
} from '../config/injector';
import { BOOLEAN_WORDS, booleanOfText } from '../config/booleans';
import { HEADER_TEXT } from '../config/resolve';
import { accessKeyId, fileSchema, logLevelSchema, userName } from '../config/schema';
import type { Resources } from '../config/injector';
import type { Pod, PodContainer } from './k8s';
import { aboveLimit, parseQuantity } from '../config/quantity';
import { NO_NAMES } from './placement';
import { nearestAmong } from '../config/suggest';
import { visibleText } from '../visible-text';
import {
  CONTAINER_NAME,
  OPS_PORT_NAME,
  type SidecarCredential,
  type SidecarSettings,
} from './sidecar';

const PREFIX = 'vidispine-auth-proxy/';
/** The label a pod opts in with (the webhook's objectSelector); its value must be "true". */
const INJECT_LABEL = `${PREFIX}inject`;

/**
 * Whether the pod carries the opt-in label the webhook configuration's objectSelector
 * matches. Checked here too: a configuration that lost its selector would otherwise send
 * every pod of the cluster, and under `failurePolicy: Fail` deny every one without it.
 */
export function optedIn(pod: Pod): boolean {
  return pod.metadata?.labels?.[INJECT_LABEL] === 'true';
}
/** The node label the scheduler matches a pod's operating system by. */
const OS_LABEL = 'kubernetes.io/os';
/** Added to injected pods: deploy/monitoring's PodMonitor scrapes pods carrying it. */
export const METRICS_LABEL = `${PREFIX}metrics`;

/** Cluster-wide settings from the webhook's own configuration. */
export type InjectDefaults = SidecarDefaults;

export interface AnnotationDoc {
  readonly name: string;
  /** What the value may be. */
  readonly value: string;
  readonly default: string;
  readonly meaning: string;
}

const doc = (
  suffix: string,
  value: string,
  dflt: string,
  meaning: string,
): AnnotationDoc & { readonly suffix: string } => ({
  suffix,
  name: PREFIX + suffix,
  value,
  default: dflt,
  meaning,
});

/** What a listener's port may be: the proxy runs as a non-root user without capabilities. */
const PORT_RANGE =
  "1024-65535, or from 1 where the pod's `net.ipv4.ip_unprivileged_port_start` sysctl allows";

/** Every annotation the webhook reads or writes, in the order the README lists them. */
export const ANNOTATIONS = {
  user: doc('user', 'Vidispine user name', 'required', 'the user whose token the proxy attaches'),
  credential: doc(
    'credential',
    '`password`, `access-key`, `admin` or `runas`',
    '`password`',
    "how tokens are minted: with the user's own password, with one of the user's access keys (sent as Basic `keyId:secret`), by the webhook's administrator (`GET /API/user/{user}/token`), or by the webhook's RunAs service account (`GET /API/token` + `RunAs: {user}`)",
  ),
  accessKeyId: doc(
    'access-key-id',
    "the key's ID, e.g. `VSID2C56CQTA7DWW7DLF`",
    'required for `access-key`',
    "the access key's ID (not secret: Vidispine lists it); its secret is in the Secret",
  ),
  secret: doc(
    'secret',
    'Secret name',
    'required for `password` and `access-key`',
    "Secret in the pod's namespace holding the password or the access key's secret; mounted into the proxy only, never read by the webhook",
  ),
  secretKey: doc(
    'secret-key',
    'key in that Secret',
    '`password` (`access-key` for access keys)',
    "the key whose value is the password or the access key's secret",
  ),
  vidispineUrl: doc(
    'vidispine-url',
    'http(s) URL without `/API`',
    "the webhook's `sidecar.vidispineUrl`",
    'the VidiCore the proxy talks to',
  ),
  vidispineCa: doc(
    'vidispine-ca',
    '`configmap/NAME`, `secret/NAME` or `none`',
    "the webhook's `sidecar.vidispineCa` (none if unset)",
    "a ConfigMap or Secret in the pod's namespace holding an extra PEM CA bundle for an https Vidispine (a private CA), mounted read-only into the proxy (`VIDISPINE_CA_FILE`), never read by the webhook; `none`: Node's CAs alone",
  ),
  vidispineCaKey: doc(
    'vidispine-ca-key',
    'key in that ConfigMap or Secret',
    '`ca.crt`',
    'the key whose value is the CA bundle (with `vidispine-ca` only)',
  ),
  env: doc(
    'env',
    'environment variable name',
    '— (none set)',
    "set in every app container (and every init container after the proxy; not a service mesh's) to `http://127.0.0.1:<port>/API`, before their own variables, which may use it as `$(NAME)`; never changes a variable of the pod's own: a pod with a container that sets one of that name (a value other than the proxy's URL, or `valueFrom`) is denied, naming the container",
  ),
  startAfter: doc(
    'start-after',
    'init container names, comma-separated',
    "— (a service mesh's native proxy alone)",
    "init containers the proxy starts after, besides Istio's `istio-proxy` and Linkerd's `linkerd-proxy` native sidecars: another mesh's (Kuma's `kuma-init,kuma-sidecar`) or a tool's; the proxy goes right after the last of them in the pod, and is moved there on reinvocation when another webhook adds one after it; they and any init container before them get no `env` variable (they run before the proxy), and one the move puts before the proxy loses the one the webhook gave it",
  ),
  port: doc(
    'port',
    PORT_RANGE,
    '`8080`',
    "the proxy's data listener on 127.0.0.1 (where the app sends its API calls)",
  ),
  opsPort: doc(
    'ops-port',
    PORT_RANGE,
    '`9090`',
    "the proxy's ops listener (probes, `/metrics`, `/status`) on every address, IPv6 and IPv4 (`[::]`)",
  ),
  tokenSeconds: doc('token-seconds', '1-2147483647', '`60`', 'requested token lifetime in seconds'),
  tokenAutoRefresh: doc(
    'token-auto-refresh',
    '`true`, `false`, `1`, `0`, `yes` or `no`, in any case',
    '`false`',
    'ask for sliding-expiry tokens',
  ),
  logLevel: doc(
    'log-level',
    '`fatal` `error` `warn` `info` `debug` `trace` `silent`',
    '`info`',
    "the proxy's log level",
  ),
  cpuRequest: doc(
    'cpu-request',
    'quantity, e.g. `25m`',
    "the webhook's `sidecar.resources`",
    "the proxy container's CPU request",
  ),
  cpuLimit: doc('cpu-limit', 'quantity', "the webhook's `sidecar.resources`", 'its CPU limit'),
  memoryRequest: doc(
    'memory-request',
    'quantity, e.g. `96Mi`',
    "the webhook's `sidecar.resources`",
    'its memory request',
  ),
  memoryLimit: doc(
    'memory-limit',
    'quantity',
    "the webhook's `sidecar.resources`",
    'its memory limit',
  ),
  status: doc(
    'status',
    '`injected`',
    'set by the webhook',
    'marks a pod the webhook injected; a pod with a `vidispine-auth-proxy` container is never injected again',
  ),
} as const;

export const STATUS_ANNOTATION = ANNOTATIONS.status.name;
export const INJECTED = 'injected';

const KNOWN = new Set(Object.values(ANNOTATIONS).map((a) => a.name));

/** How much of a value a message quotes: a huge annotation makes no huge answer. */
const SHOWN_LIMIT = 64;

/** Text of the pod's as a message shows it: cut short, what a terminal would act on as `?`. */
const visible = (value: string): string => visibleText(value, SHOWN_LIMIT);

/** A value of the pod's as a message quotes it. */
export function shown(value: string): string {
  return JSON.stringify(visible(value));
}

/** One problem with what a pod asks for: the annotation (or the label) and what to set. */
export interface AnnotationProblem {
  readonly annotation: string;
  readonly problem: string;
}

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
const CA_SOURCE = caSource();
const VIDISPINE_URL = vidispineUrlText(
  `must not contain credentials: put the password in a Secret and set ${ANNOTATIONS.secret.name} to its name`,
);

/** Reads one pod's annotations: its sidecar settings and the env variable it asked for. */
export interface PodRequest {
  readonly settings: SidecarSettings;
  readonly envName?: string;
  /** The webhook's pull secrets for the proxy image, added to the pod's. */
  readonly imagePullSecrets: readonly string[];
  /** Init containers the sidecar starts after (`start-after`), besides a mesh's proxy. */
  readonly startAfter: ReadonlySet<string>;
}

type Reader = {
  /** The annotation's value, trimmed; undefined when not set. */
  get(a: AnnotationDoc): string | undefined;
  problem(a: AnnotationDoc, problem: string): void;
};

export function readPodRequest(
  pod: Pod,
  defaults: InjectDefaults,
): PodRequest | AnnotationProblem[] {
  const annotations = pod.metadata?.annotations ?? {};
  const problems: AnnotationProblem[] = [];
  const r: Reader = {
    get: (a) => annotations[a.name]?.trim(),
    problem: (a, problem) => problems.push({ annotation: a.name, problem }),
  };
  for (const name of Object.keys(annotations)) {
    const problem = annotationNameProblem(name);
    if (problem !== undefined) problems.push({ annotation: visible(name), problem });
  }

  if (pod.spec.hostNetwork) {
    problems.push({
      annotation: INJECT_LABEL,
      problem:
        "the pod uses hostNetwork, so the proxy's listeners would be the node's: any process on the node could act as this user, and its ports would clash with other pods'; remove the label or hostNetwork",
    });
  }
  const windows = windowsBy(pod);
  if (windows !== undefined) {
    problems.push({
      annotation: INJECT_LABEL,
      problem: `the pod runs on Windows (${windows}): the proxy is a Linux container, and Kubernetes refuses its Linux securityContext in a Windows pod; remove the label, and reach Vidispine through a gateway of the proxy's (the Helm chart's gateway) instead`,
    });
  }
  for (const problem of processSharing(pod)) problems.push({ annotation: INJECT_LABEL, problem });
  const root = rootInherited(pod, defaults.uid);
  if (root !== undefined) problems.push({ annotation: INJECT_LABEL, problem: root });
  const user = readUser(r);
  const vidispineUrl = readUrl(r, defaults);
  const vidispineCa = readCa(r, defaults);
  const credential = readCredential(r, defaults);
  if (user !== undefined && credential?.kind === 'runAs' && !HEADER_TEXT.test(user)) {
    r.problem(
      ANNOTATIONS.user,
      `${shown(user)} cannot be sent in a RunAs header (only Latin-1 characters): give the user its own credential (password or access-key)`,
    );
  }
  const scrapeClash = scrapedPortClash(pod);
  if (scrapeClash !== undefined) problems.push({ annotation: INJECT_LABEL, problem: scrapeClash });
  const port = readPort(r, ANNOTATIONS.port, DEFAULT_PORT);
  const opsPort = readPort(r, ANNOTATIONS.opsPort, DEFAULT_OPS_PORT);
  checkPorts(pod, r, port, opsPort);
  const tokenSeconds = readTokenSeconds(r);
  const tokenAutoRefresh = readBoolean(r, ANNOTATIONS.tokenAutoRefresh, false);
  const logLevel = readLogLevel(r);
  const resources = readResources(r, defaults.resources);
  const startAfter = readStartAfter(r);
  const envName = r.get(ANNOTATIONS.env);
  if (envName !== undefined && !ENV_NAME.test(envName)) {
    r.problem(
      ANNOTATIONS.env,
      `${shown(envName)} is not an environment variable name (e.g. VIDISPINE_API)`,
    );
  }

  // Each reader that gives nothing has said why in `problems`.
  if (
    problems.length > 0 ||
    user === undefined ||
    vidispineUrl === undefined ||
    credential === undefined
  )
    return problems;
  return {
    settings: {
      image: defaults.image,
      imagePullPolicy: defaults.imagePullPolicy,
      vidispineUrl,
      ...(vidispineCa ? { vidispineCa } : {}),
      user,
      credential,
      port,
      opsPort,
      tokenSeconds,
      tokenAutoRefresh,
      logLevel,
      uid: defaults.uid,
      resources,
    },
    ...(envName ? { envName } : {}),
    imagePullSecrets: defaults.imagePullSecrets,
    startAfter,
  };
}

const SUFFIXES = [...KNOWN].map((n) => n.slice(PREFIX.length));
const nearestSuffix = nearestAmong(SUFFIXES);
const nearOurPrefix = nearestAmong([PREFIX.slice(0, -1)]);

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
  if (name === INJECT_LABEL)
    return 'the opt-in label, not an annotation: set it in metadata.labels and remove it from metadata.annotations';
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

/** What says the pod runs on Windows (`spec.os.name`, or its node selector), if anything does. */
function windowsBy(pod: Pod): string | undefined {
  if (pod.spec.os?.name === 'windows') return 'spec.os.name: windows';
  const os = pod.spec.nodeSelector?.[OS_LABEL];
  return os === 'windows' ? `nodeSelector ${OS_LABEL}: windows` : undefined;
}

/**
 * The fields that show the proxy's process to others, and to whom. Through /proc a process
 * that sees another reads its files (`/proc/<pid>/root`, the Secret's mount included) and its
 * memory (the tokens) as far as Unix permissions let it: a container of the proxy's uid, or
 * root with CAP_SYS_PTRACE, would hold the user's credentials.
 */
const PROCESS_SHARING = [
  ['shareProcessNamespace', 'every container of the pod'],
  ['hostPID', 'every process of the node and of its other hostPID pods'],
] as const;

/** Why the proxy's credentials would not be its own in this pod, one reason a field. */
function processSharing(pod: Pod): string[] {
  return PROCESS_SHARING.filter(([field]) => pod.spec[field] === true).map(
    ([field, whom]) =>
      `the pod sets spec.${field}, so ${whom} sees the proxy's process, and through /proc its credentials (its Secret's files and its memory): remove the label or spec.${field}`,
  );
}

/**
 * Why the proxy would run as root, if it would: where the platform assigns the user (the
 * webhook's `sidecar.uid` empty, OpenShift) the container sets none, and takes the pod's.
 * Its own `runAsNonRoot` then keeps it from ever starting; a uid of the webhook's overrides
 * the pod's.
 */
function rootInherited(pod: Pod, uid: number | null): string | undefined {
  if (uid !== null || pod.spec.securityContext?.runAsUser !== 0) return undefined;
  return "the pod's securityContext.runAsUser is 0, and the proxy takes the pod's user where the platform assigns it (the webhook's sidecar.uid is empty): it must not run as root; set runAsUser: 0 on the containers that need it rather than on the pod, or have the webhook set the proxy's uid (sidecar.uid)";
}

/**
 * `value` if `rule` takes `input` (the value as the rule expects it), else undefined and a
 * problem quoting the value with the rule's own words: a pod is refused now rather than its
 * proxy later.
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
  r.problem(a, `${shown(value)} ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
  return undefined;
}

function readUser(r: Reader): string | undefined {
  const a = ANNOTATIONS.user;
  const user = r.get(a);
  if (!user) {
    r.problem(a, 'required: set it to the Vidispine user whose token the proxy attaches');
    return undefined;
  }
  return byRule(r, a, USER_NAME, user);
}

function readUrl(r: Reader, defaults: InjectDefaults): string | undefined {
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

const NO_CA = 'none';

/** The pod's CA, the webhook's default, or none; a problem names what to set. */
function readCa(r: Reader, defaults: InjectDefaults): CaRef | undefined {
  const a = ANNOTATIONS.vidispineCa;
  const value = r.get(a);
  const key = r.get(ANNOTATIONS.vidispineCaKey);
  if (value === undefined || value === NO_CA) {
    if (key !== undefined) {
      r.problem(
        ANNOTATIONS.vidispineCaKey,
        `only used with ${a.name} (the webhook's default names its own key): remove it, or set ${a.name} too`,
      );
    }
    return value === NO_CA ? undefined : defaults.vidispineCa;
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

const SECRET_KEYS = {
  password: ACCOUNT_SECRET_KEYS.password,
  'access-key': ACCOUNT_SECRET_KEYS.accessKey,
} as const;

function readSecretRef(
  r: Reader,
  mode: 'password' | 'access-key',
): { secret: string; key: string } | undefined {
  const secret = r.get(ANNOTATIONS.secret);
  const key = r.get(ANNOTATIONS.secretKey) ?? SECRET_KEYS[mode];
  const what = mode === 'password' ? "the user's password" : "the access key's secret";
  if (!secret) {
    r.problem(
      ANNOTATIONS.secret,
      `required with credential ${mode}: set it to the name of the Secret holding ${what} (or set ${ANNOTATIONS.credential.name}: admin or runas for tokens minted by the webhook's account)`,
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
      "required with credential access-key: set it to the key's ID as Vidispine shows it (e.g. VSID2C56CQTA7DWW7DLF); the Secret holds its secret",
    );
    return undefined;
  }
  return byRule(r, a, ACCESS_KEY_ID, id);
}

/** The webhook's accounts that mint for pods, by the `credential` value that picks each. */
const ACCOUNTS = {
  admin: { setting: 'sidecar.admin', pick: (d: InjectDefaults) => d.admin, kind: 'admin' },
  runas: { setting: 'sidecar.runAs', pick: (d: InjectDefaults) => d.runAs, kind: 'runAs' },
} as const satisfies Record<
  string,
  {
    setting: string;
    pick: (d: InjectDefaults) => MintAccount | undefined;
    kind: SidecarCredential['kind'];
  }
>;

const CREDENTIALS = ['password', 'access-key', 'admin', 'runas'] as const;

function readCredential(r: Reader, defaults: InjectDefaults): SidecarCredential | undefined {
  const a = ANNOTATIONS.credential;
  const mode = r.get(a) ?? 'password';
  if (mode !== 'access-key' && r.get(ANNOTATIONS.accessKeyId) !== undefined) {
    r.problem(
      ANNOTATIONS.accessKeyId,
      `only used with credential access-key (this pod's is ${mode}): remove it, or set ${a.name}: access-key`,
    );
  }
  if (mode === 'password') {
    const ref = readSecretRef(r, mode);
    return ref && { kind: 'password', ...ref };
  }
  if (mode === 'access-key') {
    const id = readAccessKeyId(r);
    const ref = readSecretRef(r, mode);
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
      const other = mode === 'admin' ? defaults.runAs && 'runas' : defaults.admin && 'admin';
      r.problem(
        a,
        `${mode} is not available: the webhook has no ${setting} account configured; use password or access-key with a Secret${other ? `, or ${other}` : ''}`,
      );
      return undefined;
    }
    return { kind, account };
  }
  r.problem(a, `${shown(mode)} is not one of ${CREDENTIALS.join(', ')}`);
  return undefined;
}

// Kubernetes's rule for a container's name (a DNS label).
const CONTAINER_NAME_RULE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_CONTAINER_NAME = 63;

/** The containers the pod names; the first wrong name is a problem, and none are used then. */
function readStartAfter(r: Reader): ReadonlySet<string> {
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

/**
 * Why the pod cannot have the sidecar's ops port under its own name, if it cannot: a port of
 * the app's already has that name, and the pod is scraped (deploy/monitoring's PodMonitor
 * takes the port of that name in pods with the metrics label), so the proxy's port would be
 * renamed and the app's scraped in its place. A pod that opted out of scraping (the label
 * set to anything but "true") gets the renamed port.
 */
function scrapedPortClash(pod: Pod): string | undefined {
  const label = pod.metadata?.labels?.[METRICS_LABEL];
  if (label !== undefined && label !== 'true') return undefined;
  for (const c of ownContainers(pod)) {
    if (c.ports?.some((p) => p.name === OPS_PORT_NAME)) {
      return `container ${shown(c.name)} has a port named ${OPS_PORT_NAME}, the name of the proxy's metrics port, which deploy/monitoring's PodMonitor scrapes in pods labelled ${METRICS_LABEL}: "true" (it would scrape the app's instead): rename that port, or label the pod ${METRICS_LABEL}: "false" not to be scraped`;
    }
  }
  return undefined;
}

/** The pod's own containers (the app's and other tools'), not a proxy already in it. */
function ownContainers(pod: Pod): PodContainer[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter(
    (c) => c.name !== CONTAINER_NAME,
  );
}

const PROBES = ['startupProbe', 'readinessProbe', 'livenessProbe'] as const;
const PROBE_ACTIONS = ['httpGet', 'tcpSocket', 'grpc'] as const;

/** The first of a container's probes that checks `port` by number (a named one is a declared port). */
function probedAt(c: PodContainer, port: number): string | undefined {
  return PROBES.find((probe) => PROBE_ACTIONS.some((action) => c[probe]?.[action]?.port === port));
}

/**
 * Why `port` is the pod's own already, if it is: a container declares it for TCP (the proxy's
 * listeners are TCP: a UDP or SCTP socket of the same number binds beside them), or probes it.
 */
function takenBy(pod: Pod, port: number): string | undefined {
  for (const c of ownContainers(pod)) {
    if (c.ports?.some((p) => p.containerPort === port && (p.protocol ?? 'TCP') === 'TCP'))
      return `is already declared by container ${shown(c.name)}`;
    const probe = probedAt(c, port);
    if (probe !== undefined)
      return `is probed in container ${shown(c.name)} (${probe}), so the app listens there`;
  }
  return undefined;
}

const UNPRIVILEGED_PORT_START = 'net.ipv4.ip_unprivileged_port_start';
/** Linux's own value of it. */
const DEFAULT_UNPRIVILEGED_PORT_START = 1024;

/**
 * The lowest port a process without CAP_NET_BIND_SERVICE binds in the pod's network
 * namespace, and whether the pod's sysctls set it. A value that is no number is the
 * runtime's to refuse, so the kernel's default stands for it.
 */
function unprivilegedPortStart(pod: Pod): { readonly start: number; readonly set: boolean } {
  const sysctl = pod.spec.securityContext?.sysctls?.find((s) => s.name === UNPRIVILEGED_PORT_START);
  return sysctl !== undefined && /^\d+$/.test(sysctl.value)
    ? { start: Number(sysctl.value), set: true }
    : { start: DEFAULT_UNPRIVILEGED_PORT_START, set: false };
}

/**
 * The proxy shares the pod's network: its ports must not be ones the app declares, nor ones
 * it listens on undeclared, as its probes show (both would fail to bind, or the probes would
 * reach the proxy). Nor may they be privileged: the proxy runs as a non-root user with every
 * capability dropped.
 */
function checkPorts(pod: Pod, r: Reader, port: number, opsPort: number): void {
  if (port === opsPort) {
    r.problem(ANNOTATIONS.opsPort, `${opsPort} is also the data port: set a different one`);
  }
  const { start, set } = unprivilegedPortStart(pod);
  for (const [a, value] of [
    [ANNOTATIONS.port, port],
    [ANNOTATIONS.opsPort, opsPort],
  ] as const) {
    const taken = takenBy(pod, value);
    if (taken !== undefined) r.problem(a, `port ${value} ${taken}: set a free port`);
    if (value < start) {
      r.problem(
        a,
        `port ${value} is below ${start}, where unprivileged ports start (${UNPRIVILEGED_PORT_START}${set ? " in the pod's securityContext.sysctls" : ", the kernel's default"}): the proxy runs as a non-root user without capabilities and cannot bind it, so the pod would never be ready; set a port from ${start}, or set ${UNPRIVILEGED_PORT_START} to ${value} or lower in the pod's securityContext.sysctls`,
      );
    }
  }
}

function readTokenSeconds(r: Reader): number {
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

function readBoolean(r: Reader, a: AnnotationDoc, fallback: boolean): boolean {
  const value = r.get(a);
  if (value === undefined) return fallback;
  const parsed = booleanOfText(value);
  if (parsed === undefined) r.problem(a, `${shown(value)} is not a boolean: set ${BOOLEAN_WORDS}`);
  return parsed ?? fallback;
}

function readLogLevel(r: Reader): string {
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

/**
 * The defaults with each annotation's quantity laid over them; a request above its limit is
 * refused, as Kubernetes would. A pod that sets none gets the defaults themselves, which the
 * configuration already held to the same rule.
 */
function readResources(r: Reader, defaults: Resources): Resources {
  const requests: Record<string, string> = { ...defaults.requests };
  const limits: Record<string, string> = { ...defaults.limits };
  const changed = new Set<'cpu' | 'memory'>();
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
  }
  if (changed.size === 0) return defaults;
  for (const resource of changed) {
    const request = requests[resource];
    const limit = limits[resource];
    if (request !== undefined && limit !== undefined && aboveLimit(request, limit)) {
      const a = resource === 'cpu' ? ANNOTATIONS.cpuRequest : ANNOTATIONS.memoryRequest;
      r.problem(
        a,
        `${visible(request)} is above the ${resource} limit ${visible(limit)}: lower it or raise ${PREFIX}${resource}-limit`,
      );
    }
  }
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}
