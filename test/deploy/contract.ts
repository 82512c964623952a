/**
 * The names deployment files may rely on, as the README states them ("Configuration",
 * "Operating it", "Deploy on Kubernetes"). Kept here, beside the checks, so a manifest that
 * drifts from the contract fails a test.
 */

export const ENV_NAMES: readonly string[] = [
  'VIDISPINE_URL',
  'VIDISPINE_CA_FILE',
  'VIDISPINE_USER',
  'VIDISPINE_PASSWORD',
  'VIDISPINE_PASSWORD_FILE',
  'VIDISPINE_ACCESS_KEY_ID',
  'VIDISPINE_ACCESS_KEY_SECRET',
  'VIDISPINE_ACCESS_KEY_SECRET_FILE',
  'VIDISPINE_ADMIN_USER',
  'VIDISPINE_ADMIN_PASSWORD',
  'VIDISPINE_ADMIN_PASSWORD_FILE',
  'VIDISPINE_ADMIN_ACCESS_KEY_ID',
  'VIDISPINE_ADMIN_ACCESS_KEY_SECRET',
  'VIDISPINE_ADMIN_ACCESS_KEY_SECRET_FILE',
  'VIDISPINE_RUNAS_USER',
  'VIDISPINE_RUNAS_PASSWORD',
  'VIDISPINE_RUNAS_PASSWORD_FILE',
  'VIDISPINE_RUNAS_ACCESS_KEY_ID',
  'VIDISPINE_RUNAS_ACCESS_KEY_SECRET',
  'VIDISPINE_RUNAS_ACCESS_KEY_SECRET_FILE',
  'PROXY_LISTEN',
  'OPS_LISTEN',
  'TOKEN_SECONDS',
  'TOKEN_AUTO_REFRESH',
  'LOG_LEVEL',
  'SHUTDOWN_DELAY_SECONDS',
  'CONFIG_FILE',
];

/**
 * Variables that would carry a secret's value; manifests must use the `_FILE` forms (and the
 * proxy must be able to read the file each names).
 */
export const SECRET_ENV_NAMES: readonly string[] = [
  'VIDISPINE_PASSWORD',
  'VIDISPINE_ACCESS_KEY_SECRET',
  'VIDISPINE_ADMIN_PASSWORD',
  'VIDISPINE_ADMIN_ACCESS_KEY_SECRET',
  'VIDISPINE_RUNAS_PASSWORD',
  'VIDISPINE_RUNAS_ACCESS_KEY_SECRET',
];

/** YAML keys naming a file that holds a secret (users[], vidispine.admin, vidispine.runAs). */
export const SECRET_FILE_KEYS = /\b(?:passwordFile|secretFile):\s*(\S+)/g;

/**
 * How long every startup probe waits for the first token before the kubelet restarts the
 * proxy: a Vidispine outage at pod start must not turn into restarts, whose back-off (up to
 * 5 min) would keep the pod down long after Vidispine is back (a restart mints no sooner).
 */
export const STARTUP_WINDOW_SECONDS = 600;

/**
 * The paths every proxy is probed on, the gateway and the sidecar alike: ready means every
 * user holds an unexpired token (README "Endpoints"), also for a sidecar, whose readiness is
 * its app pod's.
 */
export const OPS_PROBES = {
  startupProbe: '/startupz',
  readinessProbe: '/readyz',
  livenessProbe: '/livez',
} as const;

export const METRIC_PREFIX = 'vidispine_auth_proxy_';

/**
 * Metric families the proxy exports (README "Operating it" → "Metrics"), with the prefix, and the labels of
 * each series in the order they are written: dashboards and outside checks may match a label
 * set exactly, so a label more is a break too. Histograms' `_bucket` series add `le`.
 */
export const METRIC_LABELS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries({
    token_refreshes_total: ['user', 'result', 'reason'],
    token_refresh_duration_seconds: ['user'],
    token_expiry_timestamp_seconds: ['user'],
    token_last_success_timestamp_seconds: ['user'],
    token_valid: ['user'],
    upstream_unauthorized_total: ['user', 'retried'],
    requests_total: ['user', 'method', 'code'],
    request_duration_seconds: ['user'],
    requests_in_flight: [],
    upstream_errors_total: ['reason'],
    websocket_sessions_open: ['user'],
    websocket_sessions_ended_total: ['end'],
  }).map(([name, labels]) => [METRIC_PREFIX + name, labels]),
);

export const METRIC_NAMES: readonly string[] = Object.keys(METRIC_LABELS);

/** Metric families the injection webhook exports (README "Inject the proxy into any pod"), as above. */
export const WEBHOOK_METRIC_LABELS: Readonly<Record<string, readonly string[]>> =
  Object.fromEntries(
    Object.entries({
      admission_reviews_total: ['result'],
      admission_requests_refused_total: ['reason'],
      admission_duration_seconds: [],
      webhook_certificate_expiry_timestamp_seconds: [],
      webhook_certificate_reloads_total: ['result'],
      webhook_certificate_reload_failing: [],
      webhook_tls_handshake_failures_total: ['reason'],
    }).map(([name, labels]) => [METRIC_PREFIX + name, labels]),
  );

export const WEBHOOK_METRIC_NAMES: readonly string[] = Object.keys(WEBHOOK_METRIC_LABELS);

/** shutdown.delaySeconds + shutdown.drainSeconds defaults: the grace period must exceed them. */
export const SHUTDOWN_SECONDS = 5 + 30;

export const PROXY_CONTAINER = 'vidispine-auth-proxy';

/** The image's numeric user and group (the Dockerfile's USER). */
export const IMAGE_USER = 65532;

/** The histogram families; only these have `_bucket`, `_sum` and `_count` series. */
export const HISTOGRAM_NAMES: readonly string[] = [
  'token_refresh_duration_seconds',
  'request_duration_seconds',
  'admission_duration_seconds',
].map((n) => METRIC_PREFIX + n);

/** A kustomize credential component, listed after deploy/components/sidecar. */
export interface CredentialComponent {
  /**
   * What its kustomization.yaml tells the user to put into the proxy's ConfigMap: names and
   * key IDs, no secret (the values are the examples').
   */
  readonly config: Readonly<Record<string, string>>;
  /** The variable naming the secret file, and the key of the mounted Secret it reads. */
  readonly file: readonly [name: string, key: string];
}

/** deploy/components/<name>: each instead of the user's own password. */
export const CREDENTIAL_COMPONENTS = {
  'sidecar-access-key': {
    config: { VIDISPINE_ACCESS_KEY_ID: 'VSID2C56CQTA7DWW7DLF' },
    file: ['VIDISPINE_ACCESS_KEY_SECRET_FILE', 'access-key'],
  },
  'sidecar-admin': {
    config: { VIDISPINE_ADMIN_USER: 'admin' },
    file: ['VIDISPINE_ADMIN_PASSWORD_FILE', 'admin-password'],
  },
  'sidecar-admin-access-key': {
    config: { VIDISPINE_ADMIN_USER: 'admin', VIDISPINE_ADMIN_ACCESS_KEY_ID: 'VSIDADMIN0000000001' },
    file: ['VIDISPINE_ADMIN_ACCESS_KEY_SECRET_FILE', 'admin-access-key'],
  },
  'sidecar-runas': {
    config: { VIDISPINE_RUNAS_USER: 'svc-runas' },
    file: ['VIDISPINE_RUNAS_PASSWORD_FILE', 'runas-password'],
  },
  'sidecar-runas-access-key': {
    config: {
      VIDISPINE_RUNAS_USER: 'svc-runas',
      VIDISPINE_RUNAS_ACCESS_KEY_ID: 'VSIDRUNAS0000000001',
    },
    file: ['VIDISPINE_RUNAS_ACCESS_KEY_SECRET_FILE', 'runas-access-key'],
  },
} as const satisfies Record<string, CredentialComponent>;
