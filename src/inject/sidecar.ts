/**
 * The proxy as a native sidecar: the container and volume the webhook injects. The Helm
 * chart's named template `vidispine-auth-proxy.sidecar` and the kustomize component
 * `deploy/components/sidecar` render the same container; test/inject/one-sidecar.test.ts
 * compares the three field by field, so a change here must be made there too.
 */
import type { CaRef, MintAccount, PullPolicy, Resources } from '../config/injector';
import type { Container, EnvVar, Volume } from './k8s';

export const CONTAINER_NAME = 'vidispine-auth-proxy';
export const VOLUME_NAME = 'vidispine-auth-proxy-credentials';
export const OPS_PORT_NAME = 'proxy-ops';
export const CA_VOLUME_NAME = 'vidispine-auth-proxy-ca';
/** Where the CA's ConfigMap or Secret appears as files. */
const CA_MOUNT_PATH = '/etc/vidispine-auth-proxy-ca';
/** Where the credential Secret's keys appear as files (read again at every mint). */
const SECRET_MOUNT_PATH = '/var/run/secrets/vidispine-auth-proxy';
/** 0444: readable by the proxy's own uid without an fsGroup; only the proxy mounts it. */
const SECRET_MODE = 0o444;

/** A key of a Secret in the pod's namespace (by reference: the webhook never reads it). */
export interface SecretRef {
  readonly secret: string;
  readonly key: string;
}

/** How the proxy mints its user's tokens, and the Secret holding what it needs. */
export type SidecarCredential =
  /** The user's own password. */
  | ({ readonly kind: 'password' } & SecretRef)
  /** One of the user's access keys: its ID, and its secret in the Secret. */
  | ({ readonly kind: 'accessKey'; readonly id: string } & SecretRef)
  /** An administrator mints the user's tokens (`GET /API/user/{user}/token`). */
  | { readonly kind: 'admin'; readonly account: MintAccount }
  /** A `_runas` service account mints them (`GET /API/token` + `RunAs: {user}`). */
  | { readonly kind: 'runAs'; readonly account: MintAccount };

export interface SidecarSettings {
  readonly image: string;
  readonly imagePullPolicy: PullPolicy;
  /** Base URL without /API. */
  readonly vidispineUrl: string;
  /** An extra CA for an https Vidispine (`VIDISPINE_CA_FILE`); absent: Node's alone. */
  readonly vidispineCa?: CaRef;
  readonly user: string;
  readonly credential: SidecarCredential;
  /** Data listener on 127.0.0.1. */
  readonly port: number;
  /** Ops listener on every address, IPv6 and IPv4 (probes, metrics). */
  readonly opsPort: number;
  readonly tokenSeconds: number;
  readonly tokenAutoRefresh: boolean;
  readonly logLevel: string;
  /**
   * Set on the container (user and group) so the pod's own runAsUser never applies to it;
   * null where the platform assigns one (the proxy writes nothing, so any uid works).
   */
  readonly uid: number | null;
  readonly resources: Resources;
}

/** Names chosen per pod, so they never clash with the pod's own. */
export interface SidecarNames {
  readonly volume: string;
  readonly caVolume: string;
  readonly opsPort: string;
}

const DEFAULT_NAMES: SidecarNames = {
  volume: VOLUME_NAME,
  caVolume: CA_VOLUME_NAME,
  opsPort: OPS_PORT_NAME,
};

/**
 * Probe timings: the startup probe allows 10 min (600 × 1 s, as Istio's sidecar) for the
 * first token. A restart mints no sooner, and the kubelet's restart back-off (10 s doubling
 * to 5 min) would keep a pod in Init:CrashLoopBackOff for minutes after a Vidispine outage at
 * its start ended, where the proxy's own mint back-off tops out at ~30 s; a process hung at
 * start is still restarted after 10 min. Readiness asks /readyz (every user holds an
 * unexpired token), as the gateway's, the chart's sidecar template's and the component's.
 */
const PROBES = {
  startupProbe: { path: '/startupz', periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 600 },
  readinessProbe: { path: '/readyz', periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
  livenessProbe: { path: '/livez', periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
} as const;

/**
 * Complete on the container: whatever the pod sets (root, its own uid, nothing) is
 * overridden, but for the user where the platform assigns it.
 */
function securityContext(uid: number | null): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    ...(uid === null ? {} : { runAsUser: uid, runAsGroup: uid }),
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The URL the app reaches Vidispine through. */
export function proxyApiUrl(settings: Pick<SidecarSettings, 'port'>): string {
  return `http://127.0.0.1:${settings.port}/API`;
}

const secretFile = (key: string): string => `${SECRET_MOUNT_PATH}/${key}`;

/** A variable of the proxy's, its value as the proxy must read it. */
interface ProxyVariable {
  readonly name: string;
  readonly value: string;
}

/** `VIDISPINE_ADMIN` / `VIDISPINE_RUNAS`: the account's name, and its password or access key. */
function accountEnv(prefix: string, a: MintAccount): ProxyVariable[] {
  const user = { name: `${prefix}_USER`, value: a.user };
  return a.accessKeyId === undefined
    ? [user, { name: `${prefix}_PASSWORD_FILE`, value: secretFile(a.key) }]
    : [
        user,
        { name: `${prefix}_ACCESS_KEY_ID`, value: a.accessKeyId },
        { name: `${prefix}_ACCESS_KEY_SECRET_FILE`, value: secretFile(a.key) },
      ];
}

function credentialEnv(c: SidecarCredential): ProxyVariable[] {
  switch (c.kind) {
    case 'password':
      return [{ name: 'VIDISPINE_PASSWORD_FILE', value: secretFile(c.key) }];
    case 'accessKey':
      return [
        { name: 'VIDISPINE_ACCESS_KEY_ID', value: c.id },
        { name: 'VIDISPINE_ACCESS_KEY_SECRET_FILE', value: secretFile(c.key) },
      ];
    case 'admin':
      return accountEnv('VIDISPINE_ADMIN', c.account);
    case 'runAs':
      return accountEnv('VIDISPINE_RUNAS', c.account);
  }
}

/** The Secret the proxy mounts: the user's own, or the minting account's. */
function credentialSecret(c: SidecarCredential): string {
  return c.kind === 'admin' || c.kind === 'runAs' ? c.account.secret : c.secret;
}

/**
 * Kubernetes expands `$(NAME)` in an `env[].value` from the variables before it and turns
 * `$$` into `$`: a user named `a$$b` would reach the proxy as `a$b`. Every `$` doubled is
 * read back as the one written.
 */
function literalEnvValue(value: string): string {
  return value.replaceAll('$', () => '$$');
}

function proxyEnv(s: SidecarSettings): EnvVar[] {
  const env: ProxyVariable[] = [
    { name: 'VIDISPINE_URL', value: s.vidispineUrl },
    ...(s.vidispineCa
      ? [{ name: 'VIDISPINE_CA_FILE', value: `${CA_MOUNT_PATH}/${s.vidispineCa.key}` }]
      : []),
    { name: 'VIDISPINE_USER', value: s.user },
    ...credentialEnv(s.credential),
    { name: 'PROXY_LISTEN', value: `127.0.0.1:${s.port}` },
    { name: 'OPS_LISTEN', value: `[::]:${s.opsPort}` },
    { name: 'TOKEN_SECONDS', value: String(s.tokenSeconds) },
    { name: 'TOKEN_AUTO_REFRESH', value: String(s.tokenAutoRefresh) },
    { name: 'LOG_LEVEL', value: s.logLevel },
    // Kubernetes stops a native sidecar only once the app's containers have exited: no one
    // is left to send it requests, and serving on for endpoints to drop the pod would only
    // hold its termination up.
    { name: 'SHUTDOWN_DELAY_SECONDS', value: '0' },
  ];
  return env.map(({ name, value }) => ({ name, value: literalEnvValue(value) }));
}

function probe(p: (typeof PROBES)[keyof typeof PROBES], port: string): Record<string, unknown> {
  const { path, ...timing } = p;
  return { httpGet: { path, port }, ...timing };
}

/**
 * The init container with `restartPolicy: Always` (Kubernetes >= 1.29): it starts before
 * every later init container and the app's containers — which wait for its startup probe,
 * i.e. the first token — runs beside them and stops after them.
 */
export function sidecarContainer(
  s: SidecarSettings,
  names: SidecarNames = DEFAULT_NAMES,
): Container {
  return {
    name: CONTAINER_NAME,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    restartPolicy: 'Always',
    args: ['run'],
    ports: [{ name: names.opsPort, containerPort: s.opsPort, protocol: 'TCP' }],
    env: proxyEnv(s),
    volumeMounts: [
      { name: names.volume, mountPath: SECRET_MOUNT_PATH, readOnly: true },
      ...(s.vidispineCa
        ? [{ name: names.caVolume, mountPath: CA_MOUNT_PATH, readOnly: true }]
        : []),
    ],
    startupProbe: probe(PROBES.startupProbe, names.opsPort),
    readinessProbe: probe(PROBES.readinessProbe, names.opsPort),
    livenessProbe: probe(PROBES.livenessProbe, names.opsPort),
    // None at all is no field, as the Helm template renders it.
    ...(s.resources.requests || s.resources.limits ? { resources: s.resources } : {}),
    securityContext: securityContext(s.uid),
  };
}

/** The volumes the container mounts: its credential's Secret, and its CA's when it has one. */
export function sidecarVolumes(s: SidecarSettings, names: SidecarNames = DEFAULT_NAMES): Volume[] {
  const credentials = {
    name: names.volume,
    secret: { secretName: credentialSecret(s.credential), defaultMode: SECRET_MODE },
  };
  const ca = s.vidispineCa;
  if (!ca) return [credentials];
  return [
    credentials,
    ca.kind === 'configMap'
      ? { name: names.caVolume, configMap: { name: ca.name, defaultMode: SECRET_MODE } }
      : { name: names.caVolume, secret: { secretName: ca.name, defaultMode: SECRET_MODE } },
  ];
}
