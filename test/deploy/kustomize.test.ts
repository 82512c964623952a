import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import type { ProxyConfig } from '../../src/config/types';
import { appConfigProblems, appConfigs } from './app-config';
import {
  drainEvictions,
  networkPolicyProblems,
  proxyContainers,
  secretProblems,
  secretReadProblems,
  workloadProblems,
  zoneSpreadProblems,
} from './checks';
import { CREDENTIAL_COMPONENTS, type CredentialComponent, OPS_PROBES } from './contract';
import { DASHBOARD_PATH } from './dashboard';
import {
  CHART,
  K8sObject,
  ROOT,
  Rendered,
  at,
  byKind,
  isRecord,
  records,
  renderKustomization,
  schemaProblems,
} from './render';

const DEPLOY = join(ROOT, 'deploy');
const WORKLOADS = [
  'base',
  'examples/sidecar',
  'examples/sidecar-access-key',
  'examples/sidecar-admin',
  'examples/sidecar-runas',
  'examples/multi-user',
];
const KUSTOMIZATIONS = [...WORKLOADS, 'monitoring'];

const rendered = new Map<string, Rendered>();
const render = (dir: string): Rendered => {
  const cached = rendered.get(dir) ?? renderKustomization(join(DEPLOY, dir));
  rendered.set(dir, cached);
  return cached;
};

function only(objects: readonly K8sObject[], kind: string): K8sObject {
  const found = byKind(objects, kind);
  expect(found).toHaveLength(1);
  return found[0] as K8sObject;
}

const podSpec = (o: K8sObject): unknown => at(o, 'spec', 'template', 'spec');
const envOf = (container: unknown): Record<string, unknown> =>
  Object.fromEntries(records(at(container, 'env')).map((e) => [String(e.name), e.value]));

describe.each(KUSTOMIZATIONS)('kubectl kustomize deploy/%s', (dir) => {
  it('renders objects that validate against the Kubernetes and Prometheus Operator schemas', () => {
    const { objects } = render(dir);
    expect(objects.length).toBeGreaterThan(0);
    expect(schemaProblems(objects)).toEqual([]);
  });

  it('puts no secret value in the manifests', () => {
    expect(secretProblems(render(dir))).toEqual([]);
  });
});

// The chart's probe timings (values.yaml probes), which the webhook injects too: one proxy
// starts and is judged alike however it is installed.
const CHART_PROBES = at(
  parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')),
  'probes',
) as Record<string, unknown>;

describe.each(WORKLOADS)('deploy/%s workload', (dir) => {
  it('runs the proxy hardened, probed on the ops port, configured by contract names', () => {
    expect(workloadProblems(render(dir).objects)).toEqual([]);
  });

  it("probes the proxy as the chart's defaults do", () => {
    const [proxy] = proxyContainers(render(dir).objects);
    const timings = (probe: unknown): unknown =>
      isRecord(probe)
        ? Object.fromEntries(Object.entries(probe).filter(([k]) => k !== 'httpGet'))
        : probe;
    const given = Object.keys(OPS_PROBES).map((probe) => [
      probe,
      timings(at(proxy?.container, probe)),
    ]);
    const chart = Object.keys(OPS_PROBES).map((probe) => [
      probe,
      CHART_PROBES[probe.replace(/Probe$/, '')],
    ]);
    expect(given).toEqual(chart);
  });

  it('gives the proxy a configuration its own loader accepts', () => {
    expect(appConfigProblems(render(dir).objects)).toEqual([]);
  });

  it('lets the proxy read its secret files as Kubernetes mounts them', () => {
    expect(secretReadProblems(render(dir).objects)).toEqual([]);
  });

  it('admits through its NetworkPolicy every port of its Service, each data port to the clients', () => {
    expect(networkPolicyProblems(render(dir).objects)).toEqual([]);
  });
});

describe('deploy/base (gateway)', () => {
  it('has every part of a gateway, selecting the same pods', () => {
    const { objects } = render('base');
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const labels = at(only(objects, 'Deployment'), 'spec', 'template', 'metadata', 'labels');
    expect(labels).toMatchObject(at(only(objects, 'Service'), 'spec', 'selector') as object);
    expect(labels).toMatchObject(
      at(only(objects, 'PodDisruptionBudget'), 'spec', 'selector', 'matchLabels') as object,
    );
    expect(labels).toMatchObject(
      at(only(objects, 'NetworkPolicy'), 'spec', 'podSelector', 'matchLabels') as object,
    );
    expect(at(only(objects, 'ServiceAccount'), 'automountServiceAccountToken')).toBe(false);
  });

  it('listens on every address of the pod, IPv6 and IPv4, as its Service reaches it in any cluster', () => {
    const [proxy] = proxyContainers(render('base').objects);
    expect(proxy?.env.get('PROXY_LISTEN')?.value).toBe('[::]:8080');
    expect(proxy?.env.get('OPS_LISTEN')?.value).toBe('[::]:9090');
  });

  it.each([1, 2])('lets a node drain evict one of %d gateway pods', (replicas) => {
    const spec = at(only(render('base').objects, 'PodDisruptionBudget'), 'spec');
    expect(drainEvictions(spec, replicas)).toBe(1);
  });

  it('references the credential Secret by name and reads the password from a file', () => {
    const { objects } = render('base');
    const spec = podSpec(only(objects, 'Deployment'));
    const secretVolume = records(at(spec, 'volumes')).find((v) => at(v, 'secret') !== undefined);
    expect(at(secretVolume, 'secret', 'secretName')).toBe('vidispine-auth-proxy-credentials');
    const proxy = at(spec, 'containers', 0);
    const mount = records(at(proxy, 'volumeMounts')).find((m) => m.name === secretVolume?.name);
    expect(envOf(proxy).VIDISPINE_PASSWORD_FILE).toBe(`${String(mount?.mountPath)}/password`);
  });

  it('keeps its replicas apart by node and, where nodes have zones, by zone', () => {
    // Its spread constraint over nodes turns off the scheduler's built-in spreading, which
    // is over zones too.
    const pod = at(only(render('base').objects, 'Deployment'), 'spec', 'template');
    expect(records(at(pod, 'spec', 'topologySpreadConstraints')).map((c) => c.topologyKey)).toEqual(
      ['kubernetes.io/hostname'],
    );
    expect(zoneSpreadProblems(pod)).toEqual([]);
  });

  it('rolls its pods when an overlay changes its environment, which the pods read at start', () => {
    // The overlay deploy/base/kustomization.yaml asks for: a patch of the ConfigMap.
    const dir = mkdtempSync(join(tmpdir(), 'vap-base-overlay-'));
    try {
      const [before, after] = [{}, { VIDISPINE_USER: 'ingest' }].map((data) => {
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          stringify({
            resources: [relative(dir, join(DEPLOY, 'base'))],
            patches: [
              {
                patch: stringify({
                  apiVersion: 'v1',
                  kind: 'ConfigMap',
                  metadata: { name: 'vidispine-auth-proxy' },
                  data,
                }),
              },
            ],
          }),
        );
        const { objects } = renderKustomization(dir);
        const [proxy] = proxyContainers(objects);
        return {
          user: proxy?.env.get('VIDISPINE_USER')?.value,
          pod: at(only(objects, 'Deployment'), 'spec', 'template'),
        };
      });
      expect([before?.user, after?.user]).toEqual(['proxy', 'ingest']);
      expect(after?.pod).not.toEqual(before?.pod);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets only labelled clients reach the data port, and reaches only Vidispine and DNS', () => {
    const policy = only(render('base').objects, 'NetworkPolicy');
    expect(at(policy, 'spec', 'policyTypes')).toEqual(['Ingress', 'Egress']);
    expect(at(policy, 'spec', 'ingress', 0)).toEqual({
      from: [{ podSelector: { matchLabels: { 'vidispine-auth-proxy/client': 'true' } } }],
      ports: [{ port: 'http', protocol: 'TCP' }],
    });
    const egressPorts = records(at(policy, 'spec', 'egress')).flatMap((r) =>
      records(r.ports).map((p) => p.port),
    );
    expect(egressPorts.sort()).toEqual([53, 53, 8080]);
  });
});

describe('deploy/examples/sidecar', () => {
  it('runs the proxy as a native sidecar the app reaches on loopback', () => {
    const { objects } = render('examples/sidecar');
    const [proxy] = proxyContainers(objects);
    expect(proxy?.container).toMatchObject({
      name: 'vidispine-auth-proxy',
      restartPolicy: 'Always',
    });
    expect(at(proxy?.container, 'startupProbe', 'httpGet', 'path')).toBe('/startupz');
    expect(proxy?.env.get('PROXY_LISTEN')?.value).toBe('127.0.0.1:8080');
    expect(proxy?.env.get('VIDISPINE_USER')?.value).toBe('legacy-app');
    expect(proxy?.container.image).toBe('registry.example.com/vidispine-auth-proxy:0.1.0');
    const spec = podSpec(only(objects, 'Deployment'));
    expect(envOf(at(spec, 'containers', 0)).VIDISPINE_API).toBe('http://127.0.0.1:8080/API');
  });

  it('leaves the pod of the stock app as it was: no securityContext, no fsGroup', () => {
    const spec = podSpec(only(render('examples/sidecar').objects, 'Deployment'));
    expect(at(spec, 'securityContext')).toBeUndefined();
    expect(at(spec, 'containers', 0, 'securityContext')).toBeUndefined();
  });

  it('mounts the credential Secret as files the proxy can read without fsGroup', () => {
    const { objects } = render('examples/sidecar');
    const [proxy] = proxyContainers(objects);
    const file = String(proxy?.env.get('VIDISPINE_PASSWORD_FILE')?.value);
    const mount = records(proxy?.container.volumeMounts).find((m) =>
      file.startsWith(`${String(m.mountPath)}/`),
    );
    expect(mount).toMatchObject({ readOnly: true });
    const volume = records(at(proxy?.spec, 'volumes')).find((v) => v.name === mount?.name);
    expect(at(volume, 'secret', 'secretName')).toBe('vidispine-auth-proxy-credentials');
    expect(secretReadProblems(objects)).toEqual([]);
  });
});

/** The sidecar example with another credential component, and what the proxy makes of it. */
interface CredentialVariant extends CredentialComponent {
  /** The credential the proxy's own loader makes of it, and where in its configuration. */
  readonly loaded: (config: ProxyConfig | undefined) => unknown;
  readonly credential: Record<string, unknown>;
}

const CREDENTIAL_VARIANTS: [dir: string, what: string, variant: CredentialVariant][] = [
  [
    'examples/sidecar-access-key',
    "the user's access key",
    {
      ...CREDENTIAL_COMPONENTS['sidecar-access-key'],
      loaded: (c) => c?.users[0]?.credential,
      credential: { kind: 'accessKey', basicUser: 'VSID2C56CQTA7DWW7DLF' },
    },
  ],
  [
    'examples/sidecar-admin',
    'tokens minted by an administrator',
    {
      ...CREDENTIAL_COMPONENTS['sidecar-admin'],
      loaded: (c) => c?.vidispine.admin,
      credential: { kind: 'password', username: 'admin', basicUser: 'admin' },
    },
  ],
  [
    'examples/sidecar-runas',
    'tokens minted by a RunAs service account',
    {
      ...CREDENTIAL_COMPONENTS['sidecar-runas'],
      loaded: (c) => c?.vidispine.runAs,
      credential: { kind: 'password', username: 'svc-runas', basicUser: 'svc-runas' },
    },
  ],
];

/** The password example's objects as a variant would be without its own additions. */
function withPasswordInstead(objects: readonly K8sObject[], v: CredentialVariant): unknown {
  // Generated names carry a hash of the ConfigMap's content.
  const text = JSON.stringify(objects).replace(
    /vidispine-auth-proxy-sidecar-[a-z0-9]+/g,
    'vidispine-auth-proxy-sidecar',
  );
  const copy = JSON.parse(text) as K8sObject[];
  for (const o of copy) {
    const data = at(o, 'data');
    if (o.kind === 'ConfigMap' && isRecord(data)) for (const key in v.config) delete data[key];
    for (const c of records(at(o, 'spec', 'template', 'spec', 'initContainers'))) {
      for (const e of records(c.env)) {
        if (e.name !== v.file[0]) continue;
        e.name = 'VIDISPINE_PASSWORD_FILE';
        e.value = String(e.value).replace(new RegExp(`/${v.file[1]}$`), '/password');
      }
    }
  }
  return copy;
}

describe.each(CREDENTIAL_VARIANTS)('deploy/%s: %s', (dir, _what, v) => {
  it('takes the names from the ConfigMap and the secret from a file of the mounted Secret', () => {
    const { objects } = render(dir);
    const [proxy] = proxyContainers(objects);
    for (const [name, value] of Object.entries(v.config))
      expect(proxy?.env.get(name)?.value).toBe(value);
    expect(proxy?.env.get(v.file[0])?.value).toBe(
      `/var/run/secrets/vidispine-auth-proxy/${v.file[1]}`,
    );
    // One credential: the password file is gone.
    expect(proxy?.env.has('VIDISPINE_PASSWORD_FILE')).toBe(false);
    const [loaded] = appConfigs(objects);
    expect(loaded?.problem).toBeUndefined();
    expect(v.loaded(loaded?.config)).toMatchObject(v.credential);
  });

  it('is the sidecar example otherwise, down to the last field', () => {
    expect(withPasswordInstead(render(dir).objects, v)).toEqual(
      withPasswordInstead(render('examples/sidecar').objects, v),
    );
  });
});

describe('deploy/examples/multi-user', () => {
  it('serves two users from a YAML config whose listeners the Service exposes', () => {
    const { objects } = render('examples/multi-user');
    const configMap = only(objects, 'ConfigMap');
    const config = parseYaml(String(at(configMap, 'data', 'config.yaml'))) as unknown;
    const users = records(at(config, 'users'));
    expect(users.map((u) => u.name)).toEqual(['ingest', 'reporting']);
    const ports = users.map((u) => Number(String(u.listen).split(':').pop()));
    const servicePorts = records(at(only(objects, 'Service'), 'spec', 'ports')).map((p) => p.port);
    expect(servicePorts).toEqual(expect.arrayContaining(ports));
    const spec = podSpec(only(objects, 'Deployment'));
    const proxy = at(spec, 'containers', 0);
    expect(at(proxy, 'envFrom')).toBeUndefined();
    expect(envOf(proxy)).toEqual({ CONFIG_FILE: '/etc/vidispine-auth-proxy/config.yaml' });
    const volumes = records(at(spec, 'volumes'));
    expect(volumes.find((v) => v.name === 'config')).toMatchObject({
      configMap: { name: configMap.metadata.name },
    });
  });

  it('reads every password from a file on a mounted Secret', () => {
    const { objects } = render('examples/multi-user');
    const config = parseYaml(
      String(at(only(objects, 'ConfigMap'), 'data', 'config.yaml')),
    ) as unknown;
    const spec = podSpec(only(objects, 'Deployment'));
    const mounts = records(at(spec, 'containers', 0, 'volumeMounts'));
    const secretVolumes = new Set(
      records(at(spec, 'volumes'))
        .filter((v) => at(v, 'secret') !== undefined)
        .map((v) => v.name),
    );
    const files = [
      at(config, 'vidispine', 'admin', 'passwordFile'),
      ...records(at(config, 'users')).map((u) => u.passwordFile),
    ].filter((f): f is string => typeof f === 'string');
    expect(files).toHaveLength(2);
    for (const file of files) {
      const mount = mounts.find((m) => file.startsWith(`${String(m.mountPath)}/`));
      expect(secretVolumes.has(mount?.name)).toBe(true);
    }
  });
});

describe('deploy/monitoring', () => {
  it('scrapes the ops port of the gateway and sidecar pods', () => {
    const monitors = byKind(render('monitoring').objects, 'PodMonitor');
    const monitor = monitors.find((m) => m.metadata.name === 'vidispine-auth-proxy');
    const selector = at(monitor, 'spec', 'selector', 'matchLabels') as object;
    const port = at(monitor, 'spec', 'podMetricsEndpoints', 0, 'port');
    expect(at(monitor, 'spec', 'podMetricsEndpoints', 0, 'path')).toBe('/metrics');
    for (const dir of WORKLOADS) {
      const pod = at(only(render(dir).objects, 'Deployment'), 'spec', 'template');
      expect(at(pod, 'metadata', 'labels')).toMatchObject(selector);
      const spec = at(pod, 'spec');
      const ports = [
        ...records(at(spec, 'initContainers')),
        ...records(at(spec, 'containers')),
      ].flatMap((c) => records(c.ports));
      expect(ports).toContainEqual(expect.objectContaining({ name: port, containerPort: 9090 }));
    }
  });

  it("scrapes the ops port of the webhook's pods, as the webhook's job", () => {
    const monitors = byKind(render('monitoring').objects, 'PodMonitor');
    const monitor = monitors.find((m) => m.metadata.name === 'vidispine-auth-proxy-injector');
    const selector = at(monitor, 'spec', 'selector', 'matchLabels') as object;
    const endpoint = at(monitor, 'spec', 'podMetricsEndpoints', 0);
    expect(endpoint).toMatchObject({
      port: 'injector-ops',
      path: '/metrics',
      relabelings: [{ targetLabel: 'job', replacement: 'vidispine-auth-proxy-injector' }],
    });
    const pod = at(only(render('injector').objects, 'Deployment'), 'spec', 'template');
    expect(at(pod, 'metadata', 'labels')).toMatchObject(selector);
    const ports = records(at(pod, 'spec', 'containers')).flatMap((c) => records(c.ports));
    expect(ports).toContainEqual(
      expect.objectContaining({ name: 'injector-ops', containerPort: 9090 }),
    );
  });

  it("ships the dashboard file unchanged in a ConfigMap for Grafana's sidecar", () => {
    const configMap = only(render('monitoring').objects, 'ConfigMap');
    expect(at(configMap, 'metadata', 'labels', 'grafana_dashboard')).toBe('1');
    expect(at(configMap, 'data', 'grafana-dashboard.json')).toBe(
      readFileSync(DASHBOARD_PATH, 'utf8'),
    );
  });
});
