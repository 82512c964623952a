/**
 * One sidecar, three ways to add it: the container and volume the webhook injects, the Helm
 * named template `vidispine-auth-proxy.sidecar` renders and the kustomize component
 * deploy/components/sidecar patches in (with each credential component: access key,
 * administrator, RunAs, with a password or an access key) must be the same for the same
 * settings, field by field. A change to one that the others do not follow fails here. Also: the README's
 * annotation table is the one the webhook's annotation list generates.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withAnnotationTable } from '../../src/inject/reference';
import { stringify } from 'yaml';
import { injectorOf, proxyContainers, workloadProblems } from '../deploy/checks';
import { CREDENTIAL_COMPONENTS, type CredentialComponent } from '../deploy/contract';
import {
  CHART,
  HELMS,
  type K8sObject,
  ROOT,
  at,
  records,
  renderAppWithSidecar,
  renderChart,
  renderWithSidecarComponent,
} from '../deploy/render';
import { patched, podReview, type RunningWebhook, startWebhook } from '../support/inject';

type Rec = Record<string, unknown>;

const REPOSITORY = 'registry.example.com/vidispine-auth-proxy';

/** A stock app whose pod asks for the proxy (label and annotations) and has its own init container and volume. */
function stockPod(annotations: Record<string, string>): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'shop',
      labels: { app: 'shop', 'vidispine-auth-proxy/inject': 'true' },
      annotations,
    },
    spec: {
      initContainers: [{ name: 'migrate', image: 'registry.example.com/shop:2' }],
      containers: [{ name: 'shop', image: 'registry.example.com/shop:2' }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
}

const sidecarOf = (pod: unknown): Rec | undefined =>
  records(at(pod, 'spec', 'initContainers')).find((c) => c.name === 'vidispine-auth-proxy');
const proxyVolume = (pod: unknown, name: unknown): Rec | undefined =>
  records(at(pod, 'spec', 'volumes')).find((v) => v.name === name);

interface Case {
  /** The pod's annotations for the webhook. */
  readonly annotations: Record<string, string>;
  /** The same settings as the chart's values. */
  readonly values: Record<string, unknown>;
}

/** Kubernetes reads `$$` and `$(NAME)` in an env value: the proxy must get them as written. */
const DOLLAR_USER = 'shop$$1$(VIDISPINE_URL)$';

const CASES: [string, Case][] = [
  [
    "the user's own password, every default",
    {
      annotations: {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/secret': 'shop-vidispine',
      },
      values: {
        vidispine: { url: 'http://vidispine.media.svc:8080', user: 'shop' },
        credentials: { existingSecret: 'shop-vidispine' },
      },
    },
  ],
  [
    'an access key (its secret under another key), another port, long autoRefresh tokens, debug logs, own resources',
    {
      annotations: {
        'vidispine-auth-proxy/user': 'reporting',
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
        'vidispine-auth-proxy/secret': 'reporting-key',
        'vidispine-auth-proxy/secret-key': 'key',
        'vidispine-auth-proxy/vidispine-url': 'https://vidispine.example.com/vs',
        'vidispine-auth-proxy/port': '8181',
        'vidispine-auth-proxy/ops-port': '9191',
        'vidispine-auth-proxy/token-seconds': '3600',
        'vidispine-auth-proxy/token-auto-refresh': 'true',
        'vidispine-auth-proxy/log-level': 'debug',
        'vidispine-auth-proxy/cpu-request': '10m',
        'vidispine-auth-proxy/memory-limit': '1Gi',
      },
      values: {
        vidispine: {
          url: 'https://vidispine.example.com/vs',
          user: 'reporting',
          accessKeyId: 'VSID2C56CQTA7DWW7DLF',
        },
        credentials: {
          existingSecret: 'reporting-key',
          passwordKey: '',
          accessKeySecretKey: 'key',
        },
        service: { ports: [{ name: 'http', port: 8181 }], opsPort: 9191 },
        token: { seconds: 3600, autoRefresh: true },
        logLevel: 'debug',
        // Only what the annotations change: the rest is the chart's sidecar defaults.
        sidecar: { resources: { requests: { cpu: '10m' }, limits: { memory: '1Gi' } } },
      },
    },
  ],
  [
    'names with a $ in them, which Kubernetes would expand in env values',
    {
      annotations: {
        'vidispine-auth-proxy/user': DOLLAR_USER,
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID$(VIDISPINE_USER)$$',
        'vidispine-auth-proxy/secret': 'reporting-key',
      },
      values: {
        vidispine: {
          url: 'http://vidispine.media.svc:8080',
          user: DOLLAR_USER,
          accessKeyId: 'VSID$(VIDISPINE_USER)$$',
        },
        credentials: { existingSecret: 'reporting-key', passwordKey: '' },
      },
    },
  ],
  [
    "a private CA for Vidispine from the pod's ConfigMap",
    {
      annotations: {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/secret': 'shop-vidispine',
        'vidispine-auth-proxy/vidispine-ca': 'configmap/vidispine-ca',
      },
      values: {
        vidispine: {
          url: 'http://vidispine.media.svc:8080',
          user: 'shop',
          ca: 'configmap/vidispine-ca',
        },
        credentials: { existingSecret: 'shop-vidispine' },
      },
    },
  ],
  [
    'a private CA from a Secret, under another key',
    {
      annotations: {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/secret': 'shop-vidispine',
        'vidispine-auth-proxy/vidispine-ca': 'secret/media-ca',
        'vidispine-auth-proxy/vidispine-ca-key': 'bundle.pem',
      },
      values: {
        vidispine: {
          url: 'http://vidispine.media.svc:8080',
          user: 'shop',
          ca: 'secret/media-ca',
          caKey: 'bundle.pem',
        },
        credentials: { existingSecret: 'shop-vidispine' },
      },
    },
  ],
  [
    'admin-minted',
    {
      annotations: {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/credential': 'admin',
      },
      values: {
        vidispine: { url: 'http://vidispine.media.svc:8080', user: 'shop', adminUser: 'admin' },
        credentials: {
          existingSecret: 'vidispine-admin',
          passwordKey: '',
          adminPasswordKey: 'admin-password',
        },
      },
    },
  ],
  [
    'RunAs-minted, the service account with an access key',
    {
      annotations: {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/credential': 'runas',
      },
      values: {
        vidispine: {
          url: 'http://vidispine.media.svc:8080',
          user: 'shop',
          runAsUser: 'svc-runas',
          runAsAccessKeyId: 'VSIDRUNAS0000000001',
        },
        credentials: {
          existingSecret: 'vidispine-runas',
          passwordKey: '',
          runAsAccessKeySecretKey: 'access-key',
        },
      },
    },
  ],
];

let webhook: RunningWebhook;
let dir: string;
beforeAll(async () => {
  webhook = await startWebhook({
    SIDECAR_IMAGE: `${REPOSITORY}:0.1.0`,
    SIDECAR_ADMIN_USER: 'admin',
    SIDECAR_ADMIN_SECRET: 'vidispine-admin',
    SIDECAR_ADMIN_SECRET_KEY: 'admin-password',
    SIDECAR_RUNAS_USER: 'svc-runas',
    SIDECAR_RUNAS_SECRET: 'vidispine-runas',
    SIDECAR_RUNAS_ACCESS_KEY_ID: 'VSIDRUNAS0000000001',
  });
  dir = mkdtempSync(join(tmpdir(), 'vap-one-sidecar-'));
  cpSync(CHART, join(dir, 'vidispine-auth-proxy'), { recursive: true });
});
afterAll(async () => {
  await webhook.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function injected(pod: K8sObject): Promise<Rec> {
  return patched(pod as Rec, await webhook.review(podReview(pod as Rec)));
}

describe.each(HELMS)('$name: the webhook injects what the named template renders', (helm) => {
  it.each(CASES)('%s', async (what, { annotations, values }) => {
    const stock = stockPod(annotations);
    const fromWebhook = await injected(stock);
    const chart = join(dir, `${helm.name}-${what}`.replace(/\W+/g, '-'));
    const { objects } = renderAppWithSidecar(helm, chart, stock, {
      gateway: { enabled: false },
      image: { repository: REPOSITORY },
      // No resources: the chart's own defaults must be the webhook's.
      ...values,
    });
    const fromChart = objects.find((o) => o.kind === 'Pod');
    const container = sidecarOf(fromWebhook);
    expect(container).toBeDefined();
    // Field by field: jest names each one that differs.
    expect(container).toEqual(sidecarOf(fromChart));
    for (const { name } of records(container?.volumeMounts)) {
      expect(proxyVolume(fromWebhook, name)).toBeDefined();
      expect(proxyVolume(fromWebhook, name)).toEqual(proxyVolume(fromChart, name));
    }
    // Both put it first, before the app's own init containers.
    for (const pod of [fromWebhook, fromChart]) {
      expect(records(at(pod, 'spec', 'initContainers')).map((c) => c.name)).toEqual([
        'vidispine-auth-proxy',
        'migrate',
      ]);
    }
  });
});

/**
 * The same values given to the chart twice: with `injector.enabled`, whose webhook runs with
 * its rendered Deployment's environment, and as the dependency whose named template renders
 * the sidecar. The injected container and the rendered one must be the same.
 */
const CHART_CASES: [string, Record<string, unknown>, Record<string, unknown>?][] = [
  ["the chart's defaults", {}],
  [
    'an image by digest, always pulled',
    { image: { repository: REPOSITORY, digest: `sha256:${'0'.repeat(64)}`, pullPolicy: 'Always' } },
  ],
  [
    'sidecar.resources with no CPU at all (an empty string: none)',
    { sidecar: { resources: { requests: { cpu: '' }, limits: { cpu: '' } } } },
  ],
  ['sidecar.resources removed (null)', { sidecar: { resources: null } }],
  [
    'the user left to the platform (OpenShift): injector.sidecar.uid null, and the template without runAsUser and runAsGroup',
    { securityContext: { runAsUser: null, runAsGroup: null } },
    { uid: null },
  ],
  [
    "a private CA for Vidispine: injector.sidecar.vidispineCa, and the template's vidispine.ca",
    { vidispine: { ca: 'configmap/vidispine-ca' } },
    { vidispineCa: 'configmap/vidispine-ca' },
  ],
  [
    'pull secrets for a private registry: injector.sidecar.imagePullSecrets, on the pod',
    {},
    { imagePullSecrets: ['regcred', 'mirror-cred'] },
  ],
  [
    'another fixed user',
    { securityContext: { runAsUser: 1000770000, runAsGroup: 1000770000 } },
    { uid: 1000770000 },
  ],
];

describe.each(HELMS)(
  '$name: the webhook the chart deploys injects what its named template renders',
  (helm) => {
    it.each(CHART_CASES)('%s', async (what, values, injected = {}) => {
      const base: Record<string, unknown> = { image: { repository: REPOSITORY }, ...values };
      const valuesFile = join(dir, `${helm.name}-values-${what}.yaml`.replace(/[^\w.]+/g, '-'));
      writeFileSync(
        valuesFile,
        stringify({
          ...base,
          gateway: { enabled: false },
          injector: {
            enabled: true,
            sidecar: { vidispineUrl: 'http://vidispine.media.svc:8080', ...injected },
          },
        }),
      );
      const { env } = injectorOf(renderChart(helm, CHART, [valuesFile]).objects);
      const { WEBHOOK_CERT_FILE: _cert, WEBHOOK_KEY_FILE: _key, ...deployed } = env;
      const hook = await startWebhook({
        ...deployed,
        WEBHOOK_LISTEN: '127.0.0.1:0',
        OPS_LISTEN: '127.0.0.1:0',
      });
      try {
        const stock = stockPod({
          'vidispine-auth-proxy/user': 'shop',
          'vidispine-auth-proxy/secret': 'shop-vidispine',
        });
        const fromWebhook = patched(stock as Rec, await hook.review(podReview(stock as Rec)));
        const { objects } = renderAppWithSidecar(
          helm,
          join(dir, `${helm.name}-chain-${what}`.replace(/\W+/g, '-')),
          stock,
          {
            ...base,
            gateway: { enabled: false },
            vidispine: {
              ...(base.vidispine as object),
              url: 'http://vidispine.media.svc:8080',
              user: 'shop',
            },
            credentials: { existingSecret: 'shop-vidispine' },
          },
        );
        const fromChart = objects.find((o) => o.kind === 'Pod');
        expect(sidecarOf(fromWebhook)).toBeDefined();
        expect(sidecarOf(fromWebhook)).toEqual(sidecarOf(fromChart));
        for (const { name } of records(sidecarOf(fromWebhook)?.volumeMounts))
          expect(proxyVolume(fromWebhook, name)).toEqual(proxyVolume(fromChart, name));
        // Pod-level, the webhook's alone: the template sets no pod field.
        const pullSecrets = (injected.imagePullSecrets as string[] | undefined) ?? [];
        expect(at(fromWebhook, 'spec', 'imagePullSecrets') ?? []).toEqual(
          pullSecrets.map((name) => ({ name })),
        );
        expect(workloadProblems(objects)).toEqual([]);
      } finally {
        await hook.stop();
      }
    });
  },
);

/** The Secret the kustomize components mount, whoever's credential it holds. */
const COMPONENT_SECRET = 'vidispine-auth-proxy-credentials';

interface ComponentCase {
  /** The pod's credential annotations for the webhook. */
  readonly annotations: Record<string, string>;
  /** Its account settings, where the credential is the webhook's (admin or RunAs). */
  readonly webhook: Record<string, string>;
  /** Components listed after deploy/components/sidecar. */
  readonly more: readonly string[];
  /** What the component's user adds to the proxy's ConfigMap. */
  readonly config: Readonly<Record<string, string>>;
}

const OWN_SECRET = { 'vidispine-auth-proxy/secret': COMPONENT_SECRET };

/**
 * The pod annotations and the webhook account that give what a component mounts: the
 * account's name and access key ID from the names the component's user puts into the
 * ConfigMap, and the Secret and key the component reads.
 */
function mintedBy(
  name: keyof typeof CREDENTIAL_COMPONENTS,
  credential: 'admin' | 'runas',
): ComponentCase {
  const { config, file } = CREDENTIAL_COMPONENTS[name] as CredentialComponent;
  const prefix = credential.toUpperCase();
  const accessKeyId = config[`VIDISPINE_${prefix}_ACCESS_KEY_ID`];
  return {
    annotations: { 'vidispine-auth-proxy/credential': credential },
    webhook: {
      [`SIDECAR_${prefix}_USER`]: String(config[`VIDISPINE_${prefix}_USER`]),
      [`SIDECAR_${prefix}_SECRET`]: COMPONENT_SECRET,
      [`SIDECAR_${prefix}_SECRET_KEY`]: file[1],
      ...(accessKeyId ? { [`SIDECAR_${prefix}_ACCESS_KEY_ID`]: accessKeyId } : {}),
    },
    more: [name],
    config,
  };
}

const ACCESS_KEY = CREDENTIAL_COMPONENTS['sidecar-access-key'].config;

const COMPONENT_CASES: [string, ComponentCase][] = [
  [
    "the sidecar component's settings",
    { annotations: OWN_SECRET, webhook: {}, more: [], config: {} },
  ],
  [
    'sidecar-access-key: an access key instead of the password',
    {
      annotations: {
        ...OWN_SECRET,
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': ACCESS_KEY.VIDISPINE_ACCESS_KEY_ID,
      },
      webhook: {},
      more: ['sidecar-access-key'],
      config: ACCESS_KEY,
    },
  ],
  [
    'a user with a $ in the name: the ConfigMap gives it as written, env values would expand it',
    {
      annotations: { ...OWN_SECRET, 'vidispine-auth-proxy/user': DOLLAR_USER },
      webhook: {},
      more: [],
      config: { VIDISPINE_USER: DOLLAR_USER },
    },
  ],
  [
    'sidecar-admin: minted by an administrator with its password',
    mintedBy('sidecar-admin', 'admin'),
  ],
  [
    'sidecar-admin-access-key: minted by an administrator with its access key',
    mintedBy('sidecar-admin-access-key', 'admin'),
  ],
  [
    'sidecar-runas: minted by a RunAs service account with its password',
    mintedBy('sidecar-runas', 'runas'),
  ],
  [
    'sidecar-runas-access-key: minted by a RunAs service account with its access key',
    mintedBy('sidecar-runas-access-key', 'runas'),
  ],
];

/** The stock pod as a Deployment's template, for the kustomize components. */
const stockDeployment = (): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'shop' },
  spec: {
    selector: { matchLabels: { app: 'shop' } },
    template: { metadata: { labels: { app: 'shop' } }, spec: at(stockPod({}), 'spec') },
  },
});

describe('the webhook injects what the kustomize components patch in', () => {
  const webhooks: RunningWebhook[] = [];
  afterAll(async () => {
    await Promise.all(webhooks.map((w) => w.stop()));
  });

  it.each(COMPONENT_CASES)('%s', async (what, { annotations, webhook: accounts, more, config }) => {
    const { objects } = renderWithSidecarComponent(
      join(dir, `kustomize-${what}`.replace(/\W+/g, '-')),
      stockDeployment(),
      { more, env: config },
    );
    const [fromComponent] = proxyContainers(objects);
    // The shared webhook for the user's own credentials, one with this account otherwise.
    let hook = webhook;
    if (Object.keys(accounts).length > 0) {
      hook = await startWebhook({ SIDECAR_IMAGE: `${REPOSITORY}:0.1.0`, ...accounts });
      webhooks.push(hook);
    }
    const pod = stockPod({ 'vidispine-auth-proxy/user': 'shop', ...annotations });
    const fromWebhook = patched(pod as Rec, await hook.review(podReview(pod as Rec)));
    const [injectedProxy] = proxyContainers([
      { ...(fromWebhook as K8sObject), metadata: { name: 'shop' } },
    ]);
    // The component takes its settings from a ConfigMap (envFrom): compare the environment
    // the proxy ends up with, and every other field as it is.
    const normal = (p: typeof fromComponent): Rec => {
      const { envFrom: _from, env: _env, ...rest } = p?.container ?? {};
      const env = [...(p?.env.values() ?? [])].sort((a, b) =>
        String(a.name).localeCompare(String(b.name)),
      );
      return { ...rest, env };
    };
    expect(normal(injectedProxy)).toEqual(normal(fromComponent));
    const mount = records(injectedProxy?.container.volumeMounts)[0]?.name;
    expect(proxyVolume(fromWebhook, mount)).toEqual(
      proxyVolume({ spec: fromComponent?.spec }, mount),
    );
    // Both label the pod for deploy/monitoring's PodMonitor.
    const podLabels = at(
      objects.find((o) => o.kind === 'Deployment'),
      'spec',
      'template',
      'metadata',
      'labels',
    );
    expect(at(podLabels, 'vidispine-auth-proxy/metrics')).toBe('true');
    expect(at(fromWebhook, 'metadata', 'labels', 'vidispine-auth-proxy/metrics')).toBe('true');
  });
});

/**
 * The probes every way gives the sidecar, written out once: the comparisons above only say
 * the three agree. Ready means "every user holds an unexpired token" (/readyz), as for the
 * gateway; a native sidecar's readiness counts in its pod's Ready condition. The startup
 * probe holds the app back until the first token.
 */
const SIDECAR_PROBES = {
  startupProbe: {
    httpGet: { path: '/startupz', port: 'proxy-ops' },
    periodSeconds: 1,
    timeoutSeconds: 2,
    // 10 min, as Istio's sidecar: a Vidispine outage at pod start keeps it waiting, never
    // in restarts whose back-off would outlast the outage.
    failureThreshold: 600,
  },
  readinessProbe: {
    httpGet: { path: '/readyz', port: 'proxy-ops' },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold: 2,
  },
  livenessProbe: {
    httpGet: { path: '/livez', port: 'proxy-ops' },
    periodSeconds: 10,
    timeoutSeconds: 2,
    failureThreshold: 3,
  },
};

const probesOf = (container: Rec | undefined): Rec =>
  Object.fromEntries(Object.keys(SIDECAR_PROBES).map((probe) => [probe, container?.[probe]]));

it('the webhook, the named template (each Helm) and the component probe the sidecar alike, ready while it holds its tokens', async () => {
  const stock = stockPod({
    'vidispine-auth-proxy/user': 'shop',
    'vidispine-auth-proxy/secret': 'shop-vidispine',
  });
  expect(probesOf(sidecarOf(await injected(stock)))).toEqual(SIDECAR_PROBES);
  for (const helm of HELMS) {
    const { objects } = renderAppWithSidecar(
      helm,
      join(dir, `${helm.name}-probes`.replace(/\W+/g, '-')),
      stock,
      {
        gateway: { enabled: false },
        image: { repository: REPOSITORY },
        vidispine: { url: 'http://vidispine.media.svc:8080', user: 'shop' },
        credentials: { existingSecret: 'shop-vidispine' },
      },
    );
    expect([helm.name, probesOf(sidecarOf(objects.find((o) => o.kind === 'Pod')))]).toEqual([
      helm.name,
      SIDECAR_PROBES,
    ]);
  }
  const [fromComponent] = proxyContainers(
    renderWithSidecarComponent(join(dir, 'kustomize-probes'), stockDeployment()).objects,
  );
  expect(probesOf(fromComponent?.container)).toEqual(SIDECAR_PROBES);
});

describe("the README's annotation table", () => {
  it('is the one the annotation list generates (npm run docs:config)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(withAnnotationTable(readme)).toBe(readme);
    expect(readme).toContain('| `vidispine-auth-proxy/user` |');
  });
});
