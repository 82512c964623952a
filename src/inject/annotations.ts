/**
 * What a pod can ask for: the opt-in label and the annotations that configure its sidecar,
 * each documented once here (the README's table is generated from `ANNOTATIONS` and a test
 * keeps it current). How each is read is `readers.ts`'s.
 */
import type { Pod } from './k8s';

export const PREFIX = 'vidispine-auth-proxy/';
/** The label a pod opts in with (the webhook's objectSelector); its value must be "true". */
export const INJECT_LABEL = `${PREFIX}inject`;

/**
 * Whether the pod carries the opt-in label the webhook configuration's objectSelector
 * matches. Checked here too: a configuration that lost its selector would otherwise send
 * every pod of the cluster, and under `failurePolicy: Fail` deny every one without it.
 */
export function optedIn(pod: Pod): boolean {
  return pod.metadata?.labels?.[INJECT_LABEL] === 'true';
}
/** Added to injected pods: deploy/monitoring's PodMonitor scrapes pods carrying it. */
export const METRICS_LABEL = `${PREFIX}metrics`;

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
    '`fatal` `error` `warn` `info` `debug` `trace` `silent`, in any case',
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
