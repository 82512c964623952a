import Ajv from 'ajv';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { appConfigProblems, appConfigs } from './app-config';
import {
  boundsOf,
  chartNumbers,
  dotted,
  type NumericKey,
  proxyStringKeys,
  schemaNodeAt,
  setAt,
  type StringKey,
} from './bounds';
import {
  drainEvictions,
  gatewayContainer,
  matches,
  networkPolicyProblems,
  secretProblems,
  secretReadProblems,
  workloadProblems,
  zoneSpreadProblems,
} from './checks';
import { METRIC_NAMES } from './contract';
import { promqlSeriesNames, metricFamily } from './dashboard';
import {
  CHART,
  HELMS,
  Helm,
  K8sObject,
  ROOT,
  Rendered,
  SIDECAR_APP_CHART,
  at,
  byKind,
  records,
  renderChart,
  renderKustomization,
  renderNotes,
  renderSidecarApp,
  runTool,
  schemaProblems,
  valuesArgs,
} from './render';

const EXAMPLES = join(CHART, 'examples');
const exampleFiles = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const readYaml = (path: string): unknown => parseYaml(readFileSync(path, 'utf8')) as unknown;

function only(objects: readonly K8sObject[], kind: string): K8sObject {
  const found = byKind(objects, kind);
  expect(found).toHaveLength(1);
  return found[0] as K8sObject;
}

function proxyEnv(deployment: K8sObject): Record<string, unknown> {
  const containers = records(at(deployment, 'spec', 'template', 'spec', 'containers'));
  const proxy = containers.find((c) => c.name === 'vidispine-auth-proxy');
  return Object.fromEntries(records(proxy?.env).map((e) => [String(e.name), e.value]));
}

function extraEnvNames(valuesFiles: readonly string[]): string[] {
  return valuesFiles.flatMap((f) =>
    records(at(readYaml(f), 'extraEnv')).map((e) => String(e.name)),
  );
}

// No public image exists, so the chart requires the repository a user pushed theirs to.
const IMAGE = 'registry.example.com/vidispine-auth-proxy';
const WITH_IMAGE = [`image.repository=${IMAGE}`];
// A user's own node affinity, which a default pod anti-affinity must not displace.
const NODE_AFFINITY = [
  'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool',
  'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
];

const renders: [string, string[]][] = [
  ['default values', []],
  ...exampleFiles.map((f): [string, string[]] => [`examples/${f}`, [join(EXAMPLES, f)]]),
];

describe.each(HELMS)('$name', (helm: Helm) => {
  describe.each(renders)('chart rendered with %s', (_name, valuesFiles) => {
    let rendered: Rendered;
    beforeAll(() => {
      rendered = renderChart(helm, CHART, valuesFiles, { set: WITH_IMAGE });
    });

    it('passes helm lint --strict', () => {
      const r = runTool(helm.bin, ['lint', '--strict', CHART, ...valuesArgs(valuesFiles)]);
      expect(`${r.stdout}${r.stderr}`).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.status).toBe(0);
    });

    it('renders objects that validate against the Kubernetes and Prometheus Operator schemas', () => {
      expect(rendered.objects.length).toBeGreaterThan(0);
      expect(schemaProblems(rendered.objects)).toEqual([]);
    });

    it('runs the proxy hardened, probed on the ops port, configured by contract names', () => {
      expect(workloadProblems(rendered.objects, { extraEnv: extraEnvNames(valuesFiles) })).toEqual(
        [],
      );
    });

    it('puts no secret value in the manifests', () => {
      expect(secretProblems(rendered)).toEqual([]);
    });

    it('lets the proxy read its secret files as Kubernetes mounts them', () => {
      expect(secretReadProblems(rendered.objects)).toEqual([]);
    });

    it('gives the proxy a configuration its own loader accepts', () => {
      expect(appConfigProblems(rendered.objects)).toEqual([]);
    });

    it('admits through its NetworkPolicy every port of its Service, each data port to the clients', () => {
      expect(networkPolicyProblems(rendered.objects)).toEqual([]);
    });

    it('selects its own pods with the Service, PDB and NetworkPolicy', () => {
      const labels = at(
        only(rendered.objects, 'Deployment'),
        'spec',
        'template',
        'metadata',
        'labels',
      );
      const selectors = [
        at(only(rendered.objects, 'Service'), 'spec', 'selector'),
        ...byKind(rendered.objects, 'PodDisruptionBudget').map((o) =>
          at(o, 'spec', 'selector', 'matchLabels'),
        ),
        ...byKind(rendered.objects, 'NetworkPolicy').map((o) =>
          at(o, 'spec', 'podSelector', 'matchLabels'),
        ),
      ];
      for (const selector of selectors) expect(labels).toMatchObject(selector as object);
    });
  });

  describe('chart specifics', () => {
    it('installs the gateway alone by default, with no optional monitoring objects', () => {
      const { objects } = renderChart(helm, CHART, [], { set: WITH_IMAGE });
      expect(objects.map((o) => o.kind).sort()).toEqual([
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ]);
      expect(at(only(objects, 'ServiceAccount'), 'automountServiceAccountToken')).toBe(false);
      expect(proxyEnv(only(objects, 'Deployment'))).toEqual({
        VIDISPINE_URL: 'http://vidispine:8080',
        VIDISPINE_USER: 'proxy',
        VIDISPINE_PASSWORD_FILE: '/var/run/secrets/vidispine-auth-proxy/password',
        PROXY_LISTEN: '[::]:8080',
        OPS_LISTEN: '[::]:9090',
        TOKEN_SECONDS: '60',
        TOKEN_AUTO_REFRESH: 'false',
        LOG_LEVEL: 'info',
      });
      const volumes = records(
        at(only(objects, 'Deployment'), 'spec', 'template', 'spec', 'volumes'),
      );
      expect(volumes).toEqual([
        expect.objectContaining({
          secret: expect.objectContaining({ secretName: 'vap-vidispine-auth-proxy-credentials' }),
        }),
      ]);
    });

    it('adds the HPA, ServiceMonitor, PrometheusRule and pod extras when asked', () => {
      const { objects } = renderChart(helm, CHART, [join(EXAMPLES, 'production.yaml')]);
      const deployment = only(objects, 'Deployment');
      expect(at(deployment, 'spec', 'replicas')).toBeUndefined();
      expect(at(only(objects, 'HorizontalPodAutoscaler'), 'spec', 'scaleTargetRef', 'name')).toBe(
        deployment.metadata.name,
      );
      const endpoint = at(only(objects, 'ServiceMonitor'), 'spec', 'endpoints', 0);
      expect(endpoint).toMatchObject({ port: 'proxy-ops', path: '/metrics' });
      const servicePorts = records(at(only(objects, 'Service'), 'spec', 'ports')).map(
        (p) => p.name,
      );
      expect(servicePorts).toContain('proxy-ops');
      expect(at(only(objects, 'PrometheusRule'), 'metadata', 'labels', 'release')).toBe(
        'kube-prometheus-stack',
      );
      const pod = at(deployment, 'spec', 'template');
      expect(at(pod, 'metadata', 'annotations', 'example.com/team')).toBe('media');
      expect(
        at(pod, 'spec', 'topologySpreadConstraints', 0, 'labelSelector', 'matchLabels'),
      ).toMatchObject({
        'app.kubernetes.io/instance': 'vap',
      });
      expect(proxyEnv(deployment)).toMatchObject({
        NODE_OPTIONS: '--max-old-space-size=192',
        LOG_LEVEL: 'warn',
      });
      expect(at(deployment, 'spec', 'template', 'spec', 'containers', 0, 'image')).toBe(
        'registry.example.com/vidispine-auth-proxy:0.1.0',
      );
    });

    it.each([
      ['replicaCount: 1', ['replicaCount=1'], 1],
      ['the default replicaCount', [], 2],
      [
        'the autoscaler at minReplicas 1',
        ['autoscaling.enabled=true', 'autoscaling.minReplicas=1'],
        1,
      ],
    ])('lets a node drain evict a gateway pod with %s, by default', (_what, set, replicas) => {
      const { objects } = renderChart(helm, CHART, [], { set: [...WITH_IMAGE, ...set] });
      const spec = at(only(objects, 'PodDisruptionBudget'), 'spec');
      expect(spec).toMatchObject({ maxUnavailable: 1 });
      expect(drainEvictions(spec, replicas)).toBe(1);
    });

    it.each([
      ['1', 1],
      ['50%', '50%'],
    ])(
      'keeps a gateway PDB minAvailable of %s as given, instead of maxUnavailable',
      (value, want) => {
        const { objects } = renderChart(helm, CHART, [], {
          set: [...WITH_IMAGE, 'replicaCount=3', `podDisruptionBudget.minAvailable=${value}`],
        });
        expect(at(only(objects, 'PodDisruptionBudget'), 'spec')).toEqual({
          minAvailable: want,
          selector: expect.any(Object),
        });
      },
    );

    it('serves several users from a YAML config whose listeners the Service exposes', () => {
      const { objects } = renderChart(helm, CHART, [join(EXAMPLES, 'multi-user.yaml')], {
        set: WITH_IMAGE,
      });
      const config = parseYaml(
        String(at(only(objects, 'ConfigMap'), 'data', 'config.yaml')),
      ) as unknown;
      expect(at(config, 'ops', 'listen')).toBe('[::]:9090');
      const userPorts = records(at(config, 'users')).map((u) =>
        Number(String(u.listen).split(':').pop()),
      );
      expect(userPorts).toEqual([8080, 8081]);
      const servicePorts = records(at(only(objects, 'Service'), 'spec', 'ports')).map(
        (p) => p.port,
      );
      expect(servicePorts).toEqual(expect.arrayContaining(userPorts));
      expect(proxyEnv(only(objects, 'Deployment'))).toEqual({
        CONFIG_FILE: '/etc/vidispine-auth-proxy/config.yaml',
      });
      const annotations = at(
        only(objects, 'Deployment'),
        'spec',
        'template',
        'metadata',
        'annotations',
      );
      expect(at(annotations, 'checksum/config')).toMatch(/^[a-f0-9]{64}$/);
    });

    it("trusts vidispine.ca with a YAML config: mounted as in single-user mode, the config's caFile its file", () => {
      const { objects } = renderChart(helm, CHART, [join(EXAMPLES, 'multi-user.yaml')], {
        set: [...WITH_IMAGE, 'vidispine.ca=configmap/media-ca', 'vidispine.caKey=bundle.pem'],
      });
      const config = parseYaml(
        String(at(only(objects, 'ConfigMap'), 'data', 'config.yaml')),
      ) as unknown;
      expect(at(config, 'vidispine', 'caFile')).toBe('/etc/vidispine-auth-proxy-ca/bundle.pem');
      const gateway = gatewayContainer(objects);
      expect(
        records(gateway.container.volumeMounts).find((m) => m.name === 'vidispine-auth-proxy-ca'),
      ).toEqual({
        name: 'vidispine-auth-proxy-ca',
        mountPath: '/etc/vidispine-auth-proxy-ca',
        readOnly: true,
      });
      expect(
        records(gateway.spec.volumes).find((v) => v.name === 'vidispine-auth-proxy-ca'),
      ).toEqual({
        name: 'vidispine-auth-proxy-ca',
        configMap: { name: 'media-ca', defaultMode: 0o444 },
      });
      // The file is the whole configuration: VIDISPINE_CA_FILE would be ignored.
      expect(proxyEnv(only(objects, 'Deployment'))).toEqual({
        CONFIG_FILE: '/etc/vidispine-auth-proxy/config.yaml',
      });
      expect(appConfigProblems(objects)).toEqual([]);
      expect(appConfigs(objects)[0]?.config?.vidispine.caFile).toMatch(
        /\/etc\/vidispine-auth-proxy-ca\/bundle\.pem$/,
      );
    });

    it.each<[string, string[]]>([
      ['default values', []],
      ['a release named otherwise, with nameOverride', ['nameOverride=vap-gw']],
    ])(
      'spreads the gateway replicas over nodes by default (%s), as deploy/base does',
      (_what, set) => {
        // Two replicas and a PDB do not keep the gateway up through a node's loss if the
        // scheduler put both on that node.
        const { objects } = renderChart(helm, CHART, [], {
          release: 'shop',
          set: [...WITH_IMAGE, ...set],
        });
        const pod = at(only(objects, 'Deployment'), 'spec', 'template');
        const spread = records(at(pod, 'spec', 'topologySpreadConstraints')).filter(
          (c) =>
            c.topologyKey === 'kubernetes.io/hostname' &&
            matches(at(pod, 'metadata', 'labels'), at(c, 'labelSelector', 'matchLabels')) &&
            Object.keys(Object(at(c, 'labelSelector', 'matchLabels'))).includes(
              'app.kubernetes.io/instance',
            ),
        );
        expect(spread).toEqual([
          expect.objectContaining({ maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' }),
        ]);
        // An empty list is none, for clusters that place pods otherwise.
        const none = renderChart(helm, CHART, [], {
          set: [...WITH_IMAGE, ...set, 'topologySpreadConstraints=null'],
        });
        expect(
          at(
            only(none.objects, 'Deployment'),
            'spec',
            'template',
            'spec',
            'topologySpreadConstraints',
          ),
        ).toBeUndefined();
      },
    );

    it.each<[string, string[]]>([
      ['default values', []],
      ['nameOverride and a node affinity', ['nameOverride=vap-gw', ...NODE_AFFINITY]],
    ])(
      'keeps the gateway replicas apart by zone too, where nodes have zones (%s)',
      (_what, set) => {
        // A pod with topologySpreadConstraints of its own loses the scheduler's built-in
        // spreading, over zones as well as nodes: the zone preference must be the chart's.
        const { objects } = renderChart(helm, CHART, [], {
          release: 'shop',
          set: [...WITH_IMAGE, ...set],
        });
        const pod = at(only(objects, 'Deployment'), 'spec', 'template');
        expect(zoneSpreadProblems(pod)).toEqual([]);
        // Of this release's gateway alone.
        const antiAffinity = at(pod, 'spec', 'affinity', 'podAntiAffinity');
        expect(
          records(at(antiAffinity, 'preferredDuringSchedulingIgnoredDuringExecution')).map((t) =>
            at(t, 'podAffinityTerm', 'labelSelector', 'matchLabels', 'app.kubernetes.io/instance'),
          ),
        ).toEqual(['shop']);
        // A node affinity of the user's is kept beside it.
        expect(at(pod, 'spec', 'affinity', 'nodeAffinity') !== undefined).toBe(
          set.includes(NODE_AFFINITY[0] as string),
        );
        // null is none, as for topologySpreadConstraints.
        const none = renderChart(helm, CHART, [], {
          set: [...WITH_IMAGE, ...set, 'affinity.podAntiAffinity=null'],
        });
        expect(
          at(
            only(none.objects, 'Deployment'),
            'spec',
            'template',
            'spec',
            'affinity',
            'podAntiAffinity',
          ),
        ).toBeUndefined();
      },
    );

    it('rolls the gateway whenever the configuration its ConfigMap holds changes, not only config', () => {
      // The proxy reads its file once: a ConfigMap changed under an unchanged pod template
      // would leave every pod on the old configuration until it happens to restart.
      const withCaKey = (caKey: string): Rendered =>
        renderChart(helm, CHART, [join(EXAMPLES, 'multi-user.yaml')], {
          set: [...WITH_IMAGE, 'vidispine.ca=configmap/media-ca', `vidispine.caKey=${caKey}`],
        });
      const [before, after] = [withCaKey('ca.crt'), withCaKey('bundle.pem')].map(({ objects }) => ({
        config: at(only(objects, 'ConfigMap'), 'data', 'config.yaml'),
        pod: at(only(objects, 'Deployment'), 'spec', 'template'),
      }));
      expect(after?.config).not.toEqual(before?.config);
      expect(after?.pod).not.toEqual(before?.pod);
    });

    it('mints through the admin credential when the user has no password key', () => {
      const { objects } = renderChart(helm, CHART, [join(EXAMPLES, 'admin-minted.yaml')], {
        set: WITH_IMAGE,
      });
      const env = proxyEnv(only(objects, 'Deployment'));
      expect(env).toMatchObject({
        VIDISPINE_USER: 'legacy-app',
        VIDISPINE_ADMIN_USER: 'admin',
        VIDISPINE_ADMIN_PASSWORD_FILE: '/var/run/secrets/vidispine-auth-proxy/admin-password',
        TOKEN_AUTO_REFRESH: 'true',
      });
      expect(env).not.toHaveProperty('VIDISPINE_PASSWORD_FILE');
      const egress = at(only(objects, 'NetworkPolicy'), 'spec', 'egress', 0);
      expect(egress).toEqual({
        to: [{ ipBlock: { cidr: '203.0.113.10/32' } }],
        ports: [{ port: 443, protocol: 'TCP' }],
      });
    });

    it("sends the user's own access key by its ID, its secret from the Secret", () => {
      const { objects } = renderChart(helm, CHART, [join(EXAMPLES, 'access-key.yaml')], {
        set: WITH_IMAGE,
      });
      expect(proxyEnv(only(objects, 'Deployment'))).toEqual({
        VIDISPINE_URL: 'http://vidispine.media.svc:8080',
        VIDISPINE_USER: 'ingest',
        VIDISPINE_ACCESS_KEY_ID: 'VSID2C56CQTA7DWW7DLF',
        VIDISPINE_ACCESS_KEY_SECRET_FILE: '/var/run/secrets/vidispine-auth-proxy/access-key',
        PROXY_LISTEN: '[::]:8080',
        OPS_LISTEN: '[::]:9090',
        TOKEN_SECONDS: '60',
        TOKEN_AUTO_REFRESH: 'false',
        LOG_LEVEL: 'info',
      });
      const [loaded] = appConfigs(objects);
      expect(loaded?.config?.users[0]?.credential).toMatchObject({
        kind: 'accessKey',
        basicUser: 'VSID2C56CQTA7DWW7DLF',
      });
    });

    // Helm reads a values file's numbers as floats, which Go prints as `1e+06` from a million
    // up; the proxy takes an integer variable's digits alone.
    it.each([999_999, 1_000_000, 2_147_483_647])(
      'gives the proxy token.seconds %i as digits it takes',
      (seconds) => {
        const dir = mkdtempSync(join(tmpdir(), 'vap-token-seconds-'));
        try {
          const file = join(dir, 'values.yaml');
          writeFileSync(file, stringify({ token: { seconds } }));
          const { objects } = renderChart(helm, CHART, [file], { set: WITH_IMAGE });
          expect(proxyEnv(only(objects, 'Deployment'))).toMatchObject({
            TOKEN_SECONDS: String(seconds),
          });
          expect(appConfigProblems(objects)).toEqual([]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    it.each([
      [
        'a RunAs account with its password',
        ['vidispine.runAsUser=svc-runas'],
        {
          VIDISPINE_RUNAS_USER: 'svc-runas',
          VIDISPINE_RUNAS_PASSWORD_FILE: '/var/run/secrets/vidispine-auth-proxy/runas-password',
        },
        { runAs: { username: 'svc-runas', kind: 'password' } },
      ],
      [
        'a RunAs account with an access key',
        ['vidispine.runAsUser=svc-runas', 'vidispine.runAsAccessKeyId=VSIDRUNAS0000000001'],
        {
          VIDISPINE_RUNAS_USER: 'svc-runas',
          VIDISPINE_RUNAS_ACCESS_KEY_ID: 'VSIDRUNAS0000000001',
          VIDISPINE_RUNAS_ACCESS_KEY_SECRET_FILE:
            '/var/run/secrets/vidispine-auth-proxy/runas-access-key',
        },
        { runAs: { username: 'svc-runas', kind: 'accessKey', basicUser: 'VSIDRUNAS0000000001' } },
      ],
      [
        'an administrator with an access key',
        ['vidispine.adminUser=admin', 'vidispine.adminAccessKeyId=VSIDADMIN0000000001'],
        {
          VIDISPINE_ADMIN_USER: 'admin',
          VIDISPINE_ADMIN_ACCESS_KEY_ID: 'VSIDADMIN0000000001',
          VIDISPINE_ADMIN_ACCESS_KEY_SECRET_FILE:
            '/var/run/secrets/vidispine-auth-proxy/admin-access-key',
        },
        { admin: { username: 'admin', kind: 'accessKey', basicUser: 'VSIDADMIN0000000001' } },
      ],
    ])("mints through %s, which the proxy's loader takes", (_what, set, env, vidispine) => {
      const rendered = renderChart(helm, CHART, [], {
        set: [...WITH_IMAGE, 'credentials.passwordKey=', ...set],
      });
      const deployment = only(rendered.objects, 'Deployment');
      const all = proxyEnv(deployment);
      expect(all).toMatchObject(env);
      // The account's credential only: the user has none of its own.
      const credentials = Object.keys(all).filter((n) => /PASSWORD|ACCESS_KEY|ADMIN|RUNAS/.test(n));
      expect(credentials.sort()).toEqual(Object.keys(env).sort());
      expect(workloadProblems(rendered.objects)).toEqual([]);
      expect(secretReadProblems(rendered.objects)).toEqual([]);
      expect(appConfigProblems(rendered.objects)).toEqual([]);
      const [loaded] = appConfigs(rendered.objects);
      expect(loaded?.config?.vidispine).toMatchObject(vidispine);
      expect(loaded?.config?.users[0]?.credential).toBeUndefined();
      // The NOTES name the one Secret key the proxy reads: the account's.
      const file = Object.entries(env).find(([name]) => name.endsWith('_FILE'))?.[1] ?? '';
      const notes = renderNotes(helm, [], [...WITH_IMAGE, 'credentials.passwordKey=', ...set]);
      expect([...notes.matchAll(/--from-literal=([\w-]+)=/g)].map((m) => m[1])).toEqual([
        file.split('/').pop(),
      ]);
    });

    it.each([
      ['its own access key', 'vidispine.accessKeyId', 'credentials.accessKeySecretKey=access-key'],
      ['an administrator', 'vidispine.adminAccessKeyId', 'vidispine.adminUser=ad$$min$(HOME)$'],
    ])(
      'passes names with a $ in them to the proxy as written, minting with %s (Kubernetes expands $(NAME) and $$ in env values)',
      (_what, keyIdValue, more) => {
        const user = 'shop$$1$(VIDISPINE_URL)$';
        const keyId = 'VSID$(VIDISPINE_USER)$$';
        const { objects } = renderChart(helm, CHART, [], {
          set: [
            ...WITH_IMAGE,
            'credentials.passwordKey=',
            `vidispine.user=${user}`,
            `${keyIdValue}=${keyId}`,
            more,
          ],
        });
        const [loaded] = appConfigs(objects);
        expect(loaded?.problem).toBeUndefined();
        expect(loaded?.config?.users[0]?.name).toBe(user);
        const { admin } = loaded?.config?.vidispine ?? {};
        expect(admin ?? loaded?.config?.users[0]?.credential).toMatchObject({ basicUser: keyId });
        if (admin) expect(admin.username).toBe('ad$$min$(HOME)$');
      },
    );

    it('serves RunAs-minted users and one with its own access key from a YAML config', () => {
      const { objects } = renderChart(helm, CHART, [join(EXAMPLES, 'runas.yaml')], {
        set: WITH_IMAGE,
      });
      const [loaded] = appConfigs(objects);
      expect(loaded?.problem).toBeUndefined();
      const config = loaded?.config;
      expect(config?.vidispine.runAs).toMatchObject({
        username: 'svc-runas',
        kind: 'accessKey',
        basicUser: 'VSIDRUNAS0000000001',
      });
      expect(config?.vidispine.admin).toBeUndefined();
      expect(config?.users.map((u) => [u.name, u.credential?.kind])).toEqual([
        ['ingest', undefined],
        ['transcode', undefined],
        ['reporting', 'accessKey'],
      ]);
    });

    // The way the chart's refusal of a written secret points to: the variables a YAML
    // config names, taken from a Secret.
    it("takes the variables a YAML config's passwordEnv and secretEnv name from a Secret with valueFrom", () => {
      const fromSecret = (name: string) => ({
        name,
        valueFrom: { secretKeyRef: { name: 'vidispine-users', key: name.toLowerCase() } },
      });
      const extraEnv = ['ADMIN_PASSWORD', 'A_PASSWORD', 'B_KEY'].map(fromSecret);
      const dir = mkdtempSync(join(tmpdir(), 'vap-env-from-secret-'));
      try {
        const file = join(dir, 'values.yaml');
        writeFileSync(
          file,
          stringify({
            config: {
              vidispine: {
                url: 'http://v:8080',
                admin: { username: 'ad', passwordEnv: 'ADMIN_PASSWORD' },
              },
              users: [
                { name: 'a', passwordEnv: 'A_PASSWORD', listen: '0.0.0.0:8080' },
                { name: 'b', accessKey: { id: 'VSID0000000000000001', secretEnv: 'B_KEY' } },
                { name: 'c' },
              ],
            },
            extraEnv,
          }),
        );
        const { objects } = renderChart(helm, CHART, [file], { set: WITH_IMAGE });
        const containers = records(
          at(only(objects, 'Deployment'), 'spec', 'template', 'spec', 'containers'),
        );
        const env = records(containers.find((c) => c.name === 'vidispine-auth-proxy')?.env);
        expect(env.filter((e) => e.valueFrom !== undefined)).toEqual(extraEnv);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('renders nothing of the gateway when only the sidecar templates are wanted', () => {
      expect(renderChart(helm, CHART, [], { set: ['gateway.enabled=false'] }).objects).toEqual([]);
    });

    it('keeps the image tag and appVersion equal to the package version', () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(at(readYaml(join(CHART, 'Chart.yaml')), 'appVersion')).toBe(pkg.version);
      expect(at(readYaml(join(CHART, 'values.yaml')), 'image', 'tag')).toBe(pkg.version);
    });

    it('has the same alerts as deploy/monitoring, on exported metrics only', () => {
      const chartRules = at(
        only(
          renderChart(helm, CHART, [], {
            set: ['metrics.prometheusRule.enabled=true', ...WITH_IMAGE],
          }).objects,
          'PrometheusRule',
        ),
        'spec',
        'groups',
      );
      const kustomizeRules = at(
        only(renderKustomization(join(ROOT, 'deploy', 'monitoring')).objects, 'PrometheusRule'),
        'spec',
        'groups',
      );
      expect(chartRules).toEqual(kustomizeRules);
      expect(records(chartRules).map((g) => g.name)).toEqual([
        'vidispine-auth-proxy',
        'vidispine-auth-proxy-injector',
      ]);
      const rules = records(at(chartRules, 0, 'rules'));
      expect(rules.map((r) => r.alert)).toEqual([
        'VidispineAuthProxyTokenExpiringWithoutRenewal',
        'VidispineAuthProxyTokenRefreshFailing',
        'VidispineAuthProxyNotReady',
        'VidispineAuthProxyDown',
      ]);
      // The webhook's metrics are checked against a live webhook (metrics-scrape.test.ts).
      expect(records(at(chartRules, 1, 'rules')).map((r) => r.alert)).toEqual([
        'VidispineAuthProxyWebhookCertificateExpiring',
        'VidispineAuthProxyWebhookCertificateExpiring',
        'VidispineAuthProxyWebhookCertificateReloadFailing',
        'VidispineAuthProxyWebhookNotTrusted',
        'VidispineAuthProxyWebhookObjectSelectorLost',
        'VidispineAuthProxyWebhookDown',
      ]);
      const used = rules.flatMap((r) => promqlSeriesNames(String(r.expr))).map(metricFamily);
      expect(used.length).toBeGreaterThan(0);
      for (const name of used) expect(METRIC_NAMES).toContain(name);
    });
  });

  describe('NOTES.txt', () => {
    it('names what was installed, the Secret to create with its keys, and how to check it', () => {
      const notes = renderNotes(helm, [], WITH_IMAGE);
      expect(notes).toContain('installed as a gateway');
      expect(notes).toContain(
        "create secret generic vap-vidispine-auth-proxy-credentials \\\n    --from-literal=password='...'\n",
      );
      expect(notes).toContain('rollout status deployment/vap-vidispine-auth-proxy');
      expect(notes).toContain('curl -s localhost:9090/readyz');
      expect(notes).toContain('http://vap-vidispine-auth-proxy.media.svc:8080/API/');
    });

    it.each([
      ['multi-user.yaml', ['admin-password', 'ingest-password']],
      ['runas.yaml', ['runas-access-key', 'reporting-access-key']],
      ['access-key.yaml', ['access-key']],
    ])('lists every key %s reads from the Secret', (file, expected) => {
      const notes = renderNotes(helm, [join(EXAMPLES, file)], WITH_IMAGE);
      const keys = [...notes.matchAll(/--from-literal=([\w-]+)=/g)].map((m) => m[1]);
      expect(keys).toEqual(expected);
    });

    it('says where the NetworkPolicy lets the gateway reach Vidispine, and how to change it', () => {
      expect(renderNotes(helm, [], WITH_IMAGE)).toContain(
        'The pods may reach Vidispine only at [{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"vidispine"}}}] on port 8080 (networkPolicy.vidispine: set it to where Vidispine runs, or the first token never comes)',
      );
      expect(renderNotes(helm, [], [...WITH_IMAGE, 'networkPolicy.enabled=false'])).not.toContain(
        'reach Vidispine only',
      );
    });

    // Who may reach the data ports, acting as the proxy's Vidispine user: true for every
    // selector, and said when no NetworkPolicy restricts it.
    it.each([
      [
        'networkPolicy.clientPodSelector.matchLabels=null',
        'Every pod of the namespace may connect (networkPolicy.clientPodSelector is empty)',
      ],
      [
        'networkPolicy.clientPodSelector.matchExpressions[0].key=team',
        'Only pods matching {"matchExpressions":[{"key":"team"}],"matchLabels":{"vidispine-auth-proxy/client":"true"}} may connect',
      ],
      [
        'networkPolicy=null',
        "No NetworkPolicy is installed (networkPolicy.enabled is false, or networkPolicy is null): whatever reaches the Service's data ports acts as the proxy's Vidispine user",
      ],
      [
        'networkPolicy.enabled=false',
        "No NetworkPolicy is installed (networkPolicy.enabled is false, or networkPolicy is null): whatever reaches the Service's data ports acts as the proxy's Vidispine user",
      ],
    ])('says who may connect with %s', (set, said) => {
      const notes = renderNotes(helm, [], [...WITH_IMAGE, set]);
      expect(notes).toContain(said);
      expect(notes).not.toContain('labelled null');
    });

    it('points at the sidecar template when no gateway is installed', () => {
      expect(renderNotes(helm, [], ['gateway.enabled=false'])).toContain(
        'include "vidispine-auth-proxy.sidecar"',
      );
    });
  });

  describe('values Helm refuses, naming the key', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'vap-bad-values-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      // Helm's own values.schema.json check; Helm 3 and 4 word it differently.
      ['a wrong type', 'replicaCount: two\n', /replicaCount/],
      ['an unknown key', 'replicas: 3\n', /replicas/],
      [
        'a missing required key',
        'networkPolicy:\n  vidispine:\n    to: null\n',
        /vidispine.*\bto\b/,
      ],
      ['a wrong enum value', 'image:\n  pullPolicy: Sometimes\n', /pullPolicy/],
      // The proxy's bound (it exits 2 above it), caught before a pod is made.
      [
        'more connections per pool than an address has ports',
        'config:\n  vidispine:\n    url: http://vidispine:8080\n    maxSockets: 65536\n',
        /maxSockets'?: (Must be less than or equal to 65535|maximum: got 65,?536, want 65,?535)/,
      ],
      [
        'a replay buffer past its bound',
        'config:\n  vidispine:\n    url: http://vidispine:8080\n  proxy:\n    replayBufferTotalBytes: 1073741825\n',
        /replayBufferTotalBytes'?: (Must be less than or equal to 1\.073741824e\+09|maximum: got 1\.073741825×10⁰⁹, want 1\.073741824×10⁰⁹)/,
      ],
      // The injected sidecar's image is built from it: every labelled pod would fail to pull.
      [
        'an image repository no registry could hold',
        'image:\n  repository: "registry.example.com/Vidispine Auth Proxy"\n',
        /image[./]repository'?:? .*(Does not match pattern|does not match pattern)/,
      ],
      // The template's `required`: no image exists to default to.
      [
        'no image repository',
        'image:\n  repository: ""\n',
        /image\.repository is required: .*--set image\.repository=/,
      ],
      // The chart's own check: values that give the user no credential or two.
      [
        'a password and an access key',
        'vidispine:\n  accessKeyId: VSID2C56CQTA7DWW7DLF\n',
        'vidispine.accessKeyId and credentials.passwordKey ("password") are both set: a user has one credential; set credentials.passwordKey to "" to use the access key',
      ],
      [
        'an administrator and a RunAs account',
        'vidispine:\n  adminUser: admin\n  runAsUser: svc-runas\ncredentials:\n  passwordKey: ""\n',
        "vidispine.adminUser and vidispine.runAsUser are both set: one account mints the user's tokens; keep one",
      ],
      [
        'a password and an account that mints',
        'vidispine:\n  runAsUser: svc-runas\n',
        'the user has a credential of its own (credentials.passwordKey "password"), which signs its token requests, beside vidispine.runAsUser, which would mint none of them: the proxy takes both and leaves the account unused; keep one',
      ],
      [
        'no credential at all',
        'credentials:\n  passwordKey: ""\n',
        'the user has no credential: set credentials.passwordKey (a password), vidispine.accessKeyId (an access key), or vidispine.adminUser or vidispine.runAsUser',
      ],
      [
        "an account's access key without the account",
        'vidispine:\n  runAsAccessKeyId: VSIDRUNAS0000000001\n',
        "vidispine.runAsAccessKeyId is set without vidispine.runAsUser: set the RunAs account's name too",
      ],
      [
        'a YAML user with a password file and an access key',
        'config:\n  vidispine: {url: "http://vidispine:8080"}\n  users:\n    - name: ingest\n      listen: 0.0.0.0:8080\n      passwordFile: /var/run/secrets/vidispine-auth-proxy/p\n      accessKey: {id: VSID2C56CQTA7DWW7DLF, secretFile: /var/run/secrets/vidispine-auth-proxy/k}\n',
        'config.users[0] ("ingest") has more than one credential (passwordFile, accessKey): a user has one; keep one',
      ],
      [
        'a YAML config with an administrator and a RunAs account',
        'config:\n  vidispine:\n    url: "http://vidispine:8080"\n    admin: {username: admin, passwordFile: /var/run/secrets/vidispine-auth-proxy/a}\n    runAs: {username: svc, passwordFile: /var/run/secrets/vidispine-auth-proxy/r}\n  users: [{name: ingest, listen: "0.0.0.0:8080"}]\n',
        'config.vidispine.admin and config.vidispine.runAs are both set',
      ],
      [
        'a YAML user without any credential or account',
        'config:\n  vidispine: {url: "http://vidispine:8080"}\n  users: [{name: ingest, listen: "0.0.0.0:8080"}]\n',
        'config.users[0] ("ingest") has no credential: set its passwordFile, passwordEnv or accessKey, or config.vidispine.admin or config.vidispine.runAs',
      ],
      // Helm's schema check again: what the credentials may not be.
      [
        "an access key's literal secret in the YAML config",
        'config:\n  users:\n    - name: ingest\n      accessKey: {id: VSID2C56CQTA7DWW7DLF, secret: s3cr3t}\n',
        /secret/,
      ],
      ['an access key ID with a colon', 'vidispine:\n  accessKeyId: "VSID:2C56"\n', /accessKeyId/],
      ['an unknown RunAs value', 'vidispine:\n  runAsPassword: x\n', /runAsPassword/],
      ['a CA that is no configmap/ or secret/', 'vidispine:\n  ca: vidispine-ca\n', /vidispine.ca/],
      [
        'a CA key no Secret can have',
        'injector:\n  sidecar:\n    vidispineCaKey: ../ca.crt\n',
        /vidispineCaKey/,
      ],
      [
        "a CA's key for injected proxies without the CA",
        'injector:\n  enabled: true\n  sidecar:\n    vidispineCaKey: bundle.pem\n',
        'injector.sidecar.vidispineCaKey is set without injector.sidecar.vidispineCa: set the ConfigMap or Secret holding the CA too, or remove it',
      ],
      [
        "a CA's key without the CA",
        'vidispine:\n  caKey: bundle.pem\n',
        'vidispine.caKey is set without vidispine.ca: set the ConfigMap or Secret holding the CA too, or remove it',
      ],
      [
        'a CA and a YAML config that names its own',
        'vidispine:\n  ca: configmap/vidispine-ca\nconfig:\n  vidispine: {url: https://v:8443, caFile: /etc/ca/ca.crt}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n',
        'vidispine.ca and config.vidispine.caFile both give the CA bundle for Vidispine: set one (vidispine.ca mounts its ConfigMap or Secret and sets config.vidispine.caFile itself)',
      ],
      // Values the proxy would refuse at start (exit 2), or that cannot work once deployed.
      ['a Vidispine URL that is no URL', 'vidispine:\n  url: notaurl\n', /vidispine.url/],
      [
        'a Vidispine URL ending in /API',
        'vidispine:\n  url: http://vidispine:8080/API\n',
        'vidispine.url: "http://vidispine:8080/API" ends in /API: give the base URL without /API (e.g. http://vidispine:8080)',
      ],
      [
        'a YAML Vidispine URL ending in /API/',
        'config:\n  vidispine: {url: "http://vidispine:8080/api/"}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: "0.0.0.0:8080"}]\n',
        'config.vidispine.url: "http://vidispine:8080/api/" ends in /API: give the base URL without /API (e.g. http://vidispine:8080)',
      ],
      [
        'a Vidispine URL ending in /API and more slashes or dot segments',
        'vidispine:\n  url: http://vidispine:8080/vs/API/.//\n',
        'vidispine.url: "http://vidispine:8080/vs/API/.//" ends in /API: give the base URL without /API (e.g. http://vidispine:8080/vs)',
      ],
      [
        'the ops port on a data port',
        'service:\n  opsPort: 8080\n',
        'service.opsPort: 8080 is also the data port "http" in service.ports: give the ops listener a port of its own',
      ],
      // Service and container port names are IANA service names, each used once.
      [
        'a data port named as the ops port',
        'service:\n  ports: [{name: proxy-ops, port: 8080}]\n',
        'service.ports[0].name: "proxy-ops" is the name of the ops port (service.opsPort): give the data port another name',
      ],
      [
        'two data ports of one name',
        'service:\n  ports: [{name: http, port: 8080}, {name: http, port: 8081}]\n',
        'service.ports[1].name: "http" is also the name of service.ports[0]: give each data port a name of its own',
      ],
      [
        'two data ports on one number',
        'service:\n  ports: [{name: http, port: 8080}, {name: other, port: 8080}]\n',
        'service.ports[1].port: 8080 is also the port of service.ports[0] ("http"): give each data port a number of its own',
      ],
      [
        'a port name without a letter',
        "service:\n  ports: [{name: '8080', port: 8080}]\n",
        /ports/,
      ],
      [
        'a port name with two dashes in a row',
        'service:\n  ports: [{name: a--b, port: 8080}]\n',
        /ports/,
      ],
      [
        'a listen port above 65535',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:99999}]\n',
        /users.0.listen/,
      ],
      [
        'an ops listen port of 0',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n  ops: {listen: "0.0.0.0:0"}\n',
        /ops.listen/,
      ],
      [
        "a user's listen port the Service does not expose",
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8085}]\n  ops: {listen: 0.0.0.0:9191}\n  shutdown: {delaySeconds: 5, drainSeconds: 300}\n',
        'config.users[0].listen: port of "0.0.0.0:8085" is not in service.ports (8080): add it there, or listen on one of them',
      ],
      [
        'an ops listener away from the port the probes ask',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n  ops: {listen: 0.0.0.0:9191}\n',
        'config.ops.listen: "0.0.0.0:9191" is not on service.opsPort (9090), where the probes ask: leave config.ops.listen out or use port 9090',
      ],
      [
        'a YAML config without a Vidispine URL',
        'config:\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n',
        /config[\s\S]*vidispine/,
      ],
      [
        'a YAML config in which no user listens',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a}]\n',
        'config.users: no user has a listen address, and the proxy does not start without a data listener: give at least one user listen (e.g. [::]:8080 on a port in service.ports; 127.0.0.1:8080 in a sidecar)',
      ],
      [
        'an ops listener on loopback, where the kubelet cannot probe it',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n  ops: {listen: 127.0.0.1:9090}\n',
        'config.ops.listen: "127.0.0.1:9090" is on loopback, and the kubelet probes the pod IP: leave config.ops.listen out or use [::]:9090',
      ],
      [
        'a gateway user listening on loopback, where the Service cannot reach it',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: "[::1]:8080"}]\n',
        'config.users[0].listen: "[::1]:8080" is on loopback, which the Service cannot reach: listen on [::]:8080',
      ],
      [
        'a safety margin above half the token lifetime',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n  token: {seconds: 10, safetyMarginSeconds: 6}\n',
        'config.token.safetyMarginSeconds: must be at most half the token lifetime (5 s of 10 s)',
      ],
      [
        'a safety margin in extraEnv above half of token.seconds',
        'token:\n  seconds: 10\nextraEnv:\n  - {name: TOKEN_SAFETY_MARGIN_SECONDS, value: "6"}\n',
        'extraEnv TOKEN_SAFETY_MARGIN_SECONDS: must be at most half the token lifetime (5 s of 10 s); the lifetime is token.seconds',
      ],
      [
        'a gateway user listening on loopback written as a number',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: "0x7f000001:8080"}]\n',
        'config.users[0].listen: "0x7f000001:8080" is on loopback, which the Service cannot reach: listen on [::]:8080',
      ],
      [
        'the ops listener set again in extraEnv',
        'extraEnv:\n  - {name: OPS_LISTEN, value: "0.0.0.0:7000"}\n',
        'extraEnv: OPS_LISTEN is set by the chart, from service.opsPort: remove it from extraEnv and set service.opsPort instead',
      ],
      [
        'the data listener set again in extraEnv',
        'extraEnv:\n  - {name: PROXY_LISTEN, value: "0.0.0.0:7000"}\n',
        'extraEnv: PROXY_LISTEN is set by the chart, from service.ports (config.users[].listen with config)',
      ],
      [
        'the configuration file set again in extraEnv',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\nextraEnv:\n  - {name: CONFIG_FILE, value: /tmp/other.yaml}\n',
        'extraEnv: CONFIG_FILE is set by the chart, from config: remove it from extraEnv and set config instead',
      ],
      // A secret written into the values would be stored in the pod spec, which more
      // people may read than the Secret, and in Helm's release. Each refusal says where the
      // secret goes instead: a variable the chart gives from its Secret as a file
      // (VIDISPINE_PASSWORD_FILE …) cannot also come from valueFrom, or the proxy has two
      // sources and exits 2.
      [
        'a password written into extraEnv',
        'extraEnv:\n  - {name: VIDISPINE_PASSWORD, value: s3cr3t}\n',
        'extraEnv: VIDISPINE_PASSWORD holds a secret, and its value is written in the values: it would be stored in the pod spec, readable by whoever may read the workload, and in the Helm release; the chart gives it from the Secret as a file: put it in the Secret under credentials.passwordKey and remove it from extraEnv',
      ],
      [
        "the RunAs account's access key secret written into extraEnv",
        'vidispine: {user: a, runAsUser: ra, runAsAccessKeyId: VSID0000000000000001}\ncredentials: {passwordKey: ""}\nextraEnv:\n  - {name: VIDISPINE_RUNAS_ACCESS_KEY_SECRET, value: s3cr3t}\n',
        'extraEnv: VIDISPINE_RUNAS_ACCESS_KEY_SECRET holds a secret, and its value is written in the values: it would be stored in the pod spec, readable by whoever may read the workload, and in the Helm release; the chart gives it from the Secret as a file: put it in the Secret under credentials.runAsAccessKeySecretKey and remove it from extraEnv',
      ],
      [
        "the password from a Secret in extraEnv, beside the chart's VIDISPINE_PASSWORD_FILE",
        'extraEnv:\n  - {name: VIDISPINE_PASSWORD, valueFrom: {secretKeyRef: {name: s, key: p}}}\n',
        'extraEnv VIDISPINE_PASSWORD: give only one source for the secret, not VIDISPINE_PASSWORD and VIDISPINE_PASSWORD_FILE, which the chart sets (the proxy exits 2); the chart gives it from the Secret as a file: put it in the Secret under credentials.passwordKey and remove it from extraEnv',
      ],
      [
        "an administrator's password from a Secret in extraEnv, with no administrator",
        'extraEnv:\n  - {name: VIDISPINE_ADMIN_PASSWORD, valueFrom: {secretKeyRef: {name: s, key: p}}}\n',
        'extraEnv VIDISPINE_ADMIN_PASSWORD: the chart sets no VIDISPINE_ADMIN_PASSWORD_FILE, as no value sets up the credential it belongs to, and the proxy exits 2 on it: remove it from extraEnv and set up the credential in the values (the chart README, "Credentials")',
      ],
      [
        'a password in extraEnv under a lower-case name',
        'extraEnv:\n  - {name: vidispine_password, value: s3cr3t}\n',
        'extraEnv vidispine_password: unknown variable; did you mean VIDISPINE_PASSWORD?; the proxy reads upper-case names only and exits 2 on this one, and the chart gives it from the Secret as a file: put it in the Secret under credentials.passwordKey and remove it from extraEnv',
      ],
      // The account is set up with the other kind of credential: the proxy's words.
      [
        "the password from a Secret in extraEnv, beside the user's access key",
        'vidispine: {accessKeyId: VSID0000000000000001}\ncredentials: {passwordKey: ""}\nextraEnv:\n  - {name: VIDISPINE_PASSWORD, valueFrom: {secretKeyRef: {name: s, key: p}}}\n',
        'extraEnv VIDISPINE_PASSWORD: give a password or an access key, not both (VIDISPINE_PASSWORD and VIDISPINE_ACCESS_KEY_ID); the chart sets VIDISPINE_ACCESS_KEY_ID from the values (the chart README, "Credentials"): remove it from extraEnv',
      ],
      [
        "an administrator's access key secret from a Secret in extraEnv, beside its password",
        'vidispine: {adminUser: ad}\ncredentials: {passwordKey: ""}\nextraEnv:\n  - {name: VIDISPINE_ADMIN_ACCESS_KEY_SECRET, valueFrom: {secretKeyRef: {name: s, key: k}}}\n',
        'extraEnv VIDISPINE_ADMIN_ACCESS_KEY_SECRET: give a password or an access key, not both (VIDISPINE_ADMIN_PASSWORD_FILE and VIDISPINE_ADMIN_ACCESS_KEY_SECRET); the chart sets VIDISPINE_ADMIN_PASSWORD_FILE from the values (the chart README, "Credentials"): remove it from extraEnv',
      ],
      // The user's own beside an account that mints: the chart's rule for the values.
      [
        "the password from a Secret in extraEnv, with an administrator to mint the user's tokens",
        'vidispine: {adminUser: ad}\ncredentials: {passwordKey: ""}\nextraEnv:\n  - {name: VIDISPINE_PASSWORD, valueFrom: {secretKeyRef: {name: s, key: p}}}\n',
        'extraEnv VIDISPINE_PASSWORD: the user has a credential of its own (VIDISPINE_PASSWORD), which signs its token requests, beside vidispine.adminUser, which would mint none of them: the proxy takes both and leaves the account unused; keep one; for tokens minted by the account remove it from extraEnv, for the user\'s own set vidispine.adminUser to "" (the chart gives it from the Secret as a file: put it in the Secret under credentials.passwordKey and remove it from extraEnv)',
      ],
      [
        'a password written into extraEnv beside a YAML config, which reads no such variable',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\nextraEnv:\n  - {name: VIDISPINE_PASSWORD, value: s3cr3t}\n',
        'extraEnv: VIDISPINE_PASSWORD holds a secret, and its value is written in the values: it would be stored in the pod spec, readable by whoever may read the workload, and in the Helm release; with config the proxy reads it only where a passwordEnv or secretEnv names it: remove it, and give the secret by a passwordFile or secretFile under credentials.mountPath',
      ],
      ...(
        [
          [
            "a user's passwordEnv",
            'users: [{name: a, passwordEnv: A_PASSWORD, listen: 0.0.0.0:8080}]',
            'A_PASSWORD',
          ],
          [
            "a user's access key secretEnv",
            'users: [{name: a, accessKey: {id: VSID0000000000000001, secretEnv: A_KEY}, listen: 0.0.0.0:8080}]',
            'A_KEY',
          ],
          [
            "the administrator's passwordEnv",
            'vidispine: {url: http://v:8080, admin: {username: ad, passwordEnv: ADMIN_PASSWORD}}\n  users: [{name: a, listen: 0.0.0.0:8080}]',
            'ADMIN_PASSWORD',
          ],
          [
            "the RunAs account's access key secretEnv",
            'vidispine: {url: http://v:8080, runAs: {username: ra, accessKey: {id: VSID0000000000000001, secretEnv: RUNAS_KEY}}}\n  users: [{name: a, listen: 0.0.0.0:8080}]',
            'RUNAS_KEY',
          ],
          [
            "a user's passwordEnv naming the single-user variable",
            'users: [{name: a, passwordEnv: VIDISPINE_PASSWORD, listen: 0.0.0.0:8080}]',
            'VIDISPINE_PASSWORD',
          ],
        ] as const
      ).map(([holder, config, name]): [string, string, string] => [
        `a variable ${holder} names, written into extraEnv`,
        `config:\n  ${config.startsWith('users') ? `vidispine: {url: http://v:8080}\n  ${config}` : config}\nextraEnv:\n  - {name: ${name}, value: s3cr3t}\n`,
        `extraEnv: ${name} holds a secret, and its value is written in the values: it would be stored in the pod spec, readable by whoever may read the workload, and in the Helm release; take it from a Secret with valueFrom.secretKeyRef`,
      ]),
      [
        'a shutdown longer than the grace period',
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n  shutdown: {delaySeconds: 5, drainSeconds: 300}\n',
        'config.shutdown.delaySeconds (5) + config.shutdown.drainSeconds (300) is not below terminationGracePeriodSeconds (45): the pod would be killed mid-drain',
      ],
      [
        "the proxy's default shutdown in a shorter grace period",
        'config:\n  vidispine: {url: http://v:8080}\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\nterminationGracePeriodSeconds: 35\n',
        'config.shutdown.delaySeconds (5) + config.shutdown.drainSeconds (30) is not below terminationGracePeriodSeconds (35)',
      ],
      [
        "the proxy's default shutdown in a shorter grace period, single-user",
        'terminationGracePeriodSeconds: 35\n',
        'SHUTDOWN_DELAY_SECONDS (5) + SHUTDOWN_DRAIN_SECONDS (30) is not below terminationGracePeriodSeconds (35)',
      ],
      [
        'a longer drain in extraEnv than the grace period allows',
        'extraEnv:\n  - {name: SHUTDOWN_DRAIN_SECONDS, value: "60"}\n',
        'SHUTDOWN_DELAY_SECONDS (5) + SHUTDOWN_DRAIN_SECONDS (60) is not below terminationGracePeriodSeconds (45)',
      ],
      ['an unquoted image tag', 'image:\n  tag: 1.10\n', /quote it/],
      // Names and strings Kubernetes refuses, or that would break out of their YAML line.
      ['an image tag with a space', 'image:\n  tag: "1.0 x"\n', /tag/],
      [
        'a fullnameOverride that is no DNS label',
        'fullnameOverride: Bad_Name\n',
        /fullnameOverride/,
      ],
      ['a nameOverride across two lines', 'nameOverride: "a\\n  x: y"\n', /nameOverride/],
      [
        'a priorityClassName across two lines',
        'priorityClassName: "p\\n      hostNetwork: true"\n',
        /priorityClassName/,
      ],
      [
        "the webhook's priorityClassName across two lines",
        'injector:\n  priorityClassName: "p\\n      hostNetwork: true"\n',
        /injector[\s\S]*priorityClassName/,
      ],
      [
        'a credentials.mountPath across two lines',
        'credentials:\n  mountPath: "/x\\n      hostPath: /etc"\n',
        /mountPath/,
      ],
      [
        'a credentials.existingSecret across two lines',
        'credentials:\n  existingSecret: "s\\n      x: y"\n',
        /existingSecret/,
      ],
      [
        'a serviceAccount.name that is no name',
        'serviceAccount:\n  name: "Proxy Account"\n',
        /serviceAccount[\s\S]*name/,
      ],
      [
        'a cert-manager duration that is no duration',
        'injector:\n  tls:\n    certManager:\n      duration: "1h\\n  isCA: true"\n',
        /duration/,
      ],
      [
        'a cert-manager renewBefore that is no duration',
        'injector:\n  tls:\n    certManager:\n      renewBefore: 2 weeks\n',
        /renewBefore/,
      ],
      [
        'a cert-manager issuerRef name that is no name',
        'injector:\n  tls:\n    certManager:\n      issuerRef: {name: "Corp CA", kind: ClusterIssuer}\n',
        /issuerRef/,
      ],
      // Values that render and that Kubernetes refuses.
      [
        "a pod label in place of the gateway's selector label",
        'podLabels:\n  app.kubernetes.io/name: shop\n',
        "podLabels: app.kubernetes.io/name is a label the chart sets and selects the gateway's pods by (the Deployment, Service, PDB and NetworkPolicy): remove it from podLabels",
      ],
      [
        "a webhook pod label in place of the webhook's selector label",
        'injector:\n  enabled: true\n  podLabels:\n    app.kubernetes.io/instance: shop\n',
        "injector.podLabels: app.kubernetes.io/instance is a label the chart sets and selects the webhook's pods by (the Deployment, Service and PDB): remove it from injector.podLabels",
      ],
      [
        'an autoscaler minimum above its maximum',
        'autoscaling:\n  enabled: true\n  minReplicas: 5\n  maxReplicas: 2\n',
        'autoscaling.minReplicas (5) is above autoscaling.maxReplicas (2), which Kubernetes refuses: lower minReplicas or raise maxReplicas',
      ],
      // Kubernetes refuses a pod whose container requests more than its limit.
      [
        "a gateway container's request above its limit",
        'resources:\n  requests:\n    memory: 1Gi\n',
        'resources.requests.memory: 1Gi is above the memory limit 256Mi (resources.limits.memory): lower the request or raise the limit',
      ],
      // A PodDisruptionBudget that leaves a node drain nothing to evict blocks it for good.
      [
        'a gateway PDB minAvailable as high as the replicas',
        'replicaCount: 1\npodDisruptionBudget:\n  minAvailable: 1\n',
        'podDisruptionBudget.minAvailable: 1 lets a node drain evict no gateway pod at replicaCount 1, so every drain of a node running one blocks: leave it unset (maxUnavailable: 1, the default), lower it, or raise replicaCount',
      ],
      [
        "a gateway PDB minAvailable percentage at the autoscaler's minimum",
        'autoscaling:\n  enabled: true\n  minReplicas: 3\npodDisruptionBudget:\n  minAvailable: "70%"\n',
        'podDisruptionBudget.minAvailable: 70% lets a node drain evict no gateway pod at autoscaling.minReplicas 3',
      ],
      [
        'a gateway PDB maxUnavailable of 0',
        'podDisruptionBudget:\n  maxUnavailable: 0\n',
        'podDisruptionBudget.maxUnavailable: 0 lets a node drain evict no gateway pod at replicaCount 2, so every drain of a node running one blocks: give 1 or more',
      ],
      [
        'a gateway PDB given neither bound',
        'podDisruptionBudget:\n  maxUnavailable: null\n',
        'podDisruptionBudget: set maxUnavailable (or minAvailable), or enabled: false',
      ],
    ])('%s', (what, yaml, message) => {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, yaml);
      // The cases of the repository itself give it, or leave it out, in their values.
      const set = /image repository/.test(what) ? [] : WITH_IMAGE;
      const r = runTool(helm.bin, ['template', 'vap', CHART, ...valuesArgs([file], set)]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('s3cr3t');
    });

    // Every number the proxy takes, at the bound its own schema gives and one past it: lint
    // and render refuse what the pod would exit 2 on, and take what it would start with.
    const numbers = chartNumbers().filter((n) => n.bounds.maximum !== undefined);
    const valuesAt = (at: (maximum: number) => number): Record<string, unknown> => {
      const values: Record<string, unknown> = {
        config: {
          vidispine: { url: 'http://vidispine:8080' },
          users: [
            {
              name: 'ingest',
              listen: '0.0.0.0:8080',
              passwordFile: '/var/run/secrets/vidispine-auth-proxy/p',
            },
          ],
        },
        // Above config.shutdown's largest delay and drain, which must end before it.
        terminationGracePeriodSeconds: 100_000,
      };
      for (const n of numbers) setAt(values, n.path, at(n.bounds.maximum ?? 0));
      return values;
    };

    it("takes each number the proxy takes at the proxy's maximum", () => {
      const file = join(dir, 'at-maximum.yaml');
      // A margin may be at most half the lifetime, the largest lifetime's included.
      const values = valuesAt((maximum) => maximum);
      for (const n of numbers.filter((k) => k.path.at(-1) === 'safetyMarginSeconds'))
        setAt(values, n.path, (n.bounds.maximum ?? 0) / 2);
      writeFileSync(file, stringify(values));
      const r = runTool(helm.bin, ['template', 'vap', CHART, ...valuesArgs([file], WITH_IMAGE)]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it("refuses each number the proxy takes one past the proxy's maximum, naming it", () => {
      const file = join(dir, 'past-maximum.yaml');
      writeFileSync(file, stringify(valuesAt((maximum) => maximum + 1)));
      const r = runTool(helm.bin, ['template', 'vap', CHART, ...valuesArgs([file], WITH_IMAGE)]);
      expect(r.status).not.toBe(0);
      const unnamed = numbers.filter((n) => {
        const path = n.path.map((s) => (s === '[]' ? '0' : s));
        // Helm 3 names `config.users.0.token.seconds`, Helm 4 `/config/users/0/token/seconds`.
        const named = new RegExp(
          `(^|[\\s'])(${path.join('\\.')}|/${path.join('/')})'?: (Must be less than or equal to|maximum: got)`,
          'm',
        );
        return !named.test(r.stderr);
      });
      expect({ unnamed: unnamed.map((n) => dotted(n.path)), stderr: r.stderr }).toEqual({
        unnamed: [],
        stderr: expect.any(String),
      });
    });

    // Base URLs the chart fails at render exactly when the proxy would exit 2 on them, and
    // the other rules the proxy holds config to: helm-agrees.test.ts, all in one render.

    /** The chart rendered from `file` as Helm would with the values schema switched off. */
    const templateWithoutSchema = (file: string) =>
      runTool(helm.bin, [
        'template',
        'vap',
        CHART,
        '--skip-schema-validation',
        ...valuesArgs([file], WITH_IMAGE),
      ]);

    it('keeps each string value on its own YAML line even without the schema check', () => {
      const file = join(dir, 'multi-line.yaml');
      const injected = '\n      hostNetwork: true';
      writeFileSync(
        file,
        stringify({
          priorityClassName: `p${injected}`,
          serviceAccount: { name: `sa${injected}` },
          credentials: { mountPath: `/x${injected}`, existingSecret: `s${injected}` },
          injector: {
            enabled: true,
            priorityClassName: `p${injected}`,
            sidecar: { vidispineUrl: 'http://vidispine:8080' },
            tls: {
              certManager: {
                enabled: true,
                duration: `1h${injected}`,
                renewBefore: `1m${injected}`,
              },
            },
          },
        }),
      );
      const r = templateWithoutSchema(file);
      expect(r.stderr).toBe('');
      const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as unknown);
      const strings: string[] = [];
      const walk = (v: unknown): void => {
        if (typeof v === 'string') strings.push(v);
        else if (Array.isArray(v)) v.forEach(walk);
        else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(objects);
      expect(JSON.stringify(objects)).not.toContain('"hostNetwork"');
      // Each one arrives whole, as the value it was given.
      expect(strings.filter((v) => v.endsWith(injected)).sort()).toEqual(
        [
          `/x${injected}`,
          `1h${injected}`,
          `1m${injected}`,
          `p${injected}`,
          `p${injected}`,
          `s${injected}`,
          `sa${injected}`,
          `sa${injected}`,
        ].sort(),
      );
    });

    it('names a missing config.vidispine.url even without the schema check', () => {
      const file = join(dir, 'no-url.yaml');
      writeFileSync(
        file,
        'config:\n  users: [{name: a, passwordFile: /var/run/secrets/vidispine-auth-proxy/a, listen: 0.0.0.0:8080}]\n',
      );
      const r = templateWithoutSchema(file);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('config.vidispine.url is required');
    });

    it('renders nothing with the default values alone: the image repository is required', () => {
      const r = runTool(helm.bin, ['template', 'vap', CHART]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('image.repository is required');
    });
  });

  describe("resource quantities: the sidecar's and the injected proxy's take what Kubernetes takes", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'vap-quantities-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** `helm template` with the webhook on and `resources` as sidecar.resources. */
    const template = (name: string, resources: Record<string, unknown>) => {
      const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(
        file,
        stringify({
          sidecar: { resources },
          injector: { enabled: true, sidecar: { vidispineUrl: 'http://vidispine:8080' } },
        }),
      );
      return runTool(helm.bin, ['template', 'vap', CHART, ...valuesArgs([file], WITH_IMAGE)]);
    };

    // k8s.io/apimachinery's resource.Quantity: <sign><number><suffix>, a number being
    // digits, digits.digits, digits. or .digits, or nothing but a sign or a point (zero), a suffix one of Ki Mi Gi Ti Pi Ei, n u m k
    // M G T P E, or e/E and a signed integer; the API server refuses a negative request or
    // limit. A YAML number is a quantity too.
    it.each<[string, unknown, boolean]>([
      ['whole', '1', true],
      ['zero', '0', true],
      ['negative zero', '-0', true],
      ['milli', '250m', true],
      ['a fraction', '0.5', true],
      ['a fraction without its whole part', '.5', true],
      ['a point without a fraction', '1.', true],
      ['a plus sign', '+1', true],
      ['a plus sign and milli', '+100m', true],
      ['an exponent', '1e3', true],
      ['a capital exponent', '1E3', true],
      ['a negative exponent', '25e-3', true],
      ['a signed exponent on a fraction', '1.5e+2', true],
      ['nano', '500n', true],
      ['micro', '5u', true],
      ['kilo', '64k', true],
      ['mega, giga, tera', '1M', true],
      ['peta', '1P', true],
      ['exa', '1E', true],
      ['kibi', '512Ki', true],
      ['a fraction of gibi', '1.5Gi', true],
      ['pebi', '2Pi', true],
      ['exbi', '1Ei', true],
      ['a YAML integer', 1073741824, true],
      ['a YAML float', 0.5, true],
      // A number without digits is zero to resource.ParseQuantity, the sign of zero too.
      ['a point alone', '.', true],
      ['a plus sign alone', '+', true],
      ['a minus sign alone', '-', true],
      ['a minus sign and a point', '-.', true],
      ['a suffix alone', 'Gi', true],
      ['an exponent alone', 'e3', true],
      ['zero with an exponent below a float', '-0e-400', true],
      ['a value below a float', '1e-400', true],
      ['negative', '-1', false],
      ['negative milli', '-100m', false],
      ['a capital K', '1K', false],
      ['a unit of bytes', '1KB', false],
      ['a lower-case binary suffix', '1mi', false],
      ['a space before the suffix', '1 Gi', false],
      // -1n to resource.ParseQuantity (rounded away from zero), not a float's -0.
      ['negative below a float', '-1e-400', false],
      ['an e without exponent', '1e', false],
      ['an exponent without digits', '1e+', false],
      ['two points', '1.2.3', false],
      ['hexadecimal', '0x10', false],
      ['two signs', '+-1', false],
      ['a word', 'ten', false],
    ])('%s (%j): accepted %s', (what, quantity, accepted) => {
      const both = { cpu: quantity, memory: quantity };
      const r = template(what, { requests: both, limits: both });
      expect({ status: r.status, stderr: accepted ? r.stderr : '' }).toEqual({
        status: accepted ? 0 : 1,
        stderr: '',
      });
      if (!accepted) expect(r.stderr).toMatch(/sidecar/);
    });

    it.each<[string, Record<string, unknown>, string]>([
      [
        'an exponent above a binary limit',
        { requests: { memory: '1e9' }, limits: { memory: '512Mi' } },
        'sidecar.resources.requests.memory: 1e9 is above the memory limit 512Mi',
      ],
      [
        'a signed request above a limit in millicores',
        { requests: { cpu: '+1' }, limits: { cpu: '500m' } },
        'sidecar.resources.requests.cpu: +1 is above the cpu limit 500m',
      ],
      [
        'a fraction without its whole part above a limit in nanocores',
        { requests: { cpu: '.5' }, limits: { cpu: '400000000n' } },
        'sidecar.resources.requests.cpu: .5 is above the cpu limit 400000000n',
      ],
      [
        'a request below a float, 1n to Kubernetes, above a limit of zero',
        { requests: { cpu: '1e-400' }, limits: { cpu: '-' } },
        'sidecar.resources.requests.cpu: 1e-400 is above the cpu limit -',
      ],
    ])('refuses %s, naming it', (what, resources, message) => {
      const r = template(what, resources);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(message);
    });

    // The gateway's and the webhook's own: any resource name (ephemeral-storage, a
    // hugepage size), each a quantity, refused before the API server would refuse the pod.
    it.each(['resources', 'injector.resources'])(
      '%s: a quantity Kubernetes refuses is refused, naming it; others are taken',
      (path) => {
        const values = (resources: Record<string, unknown>): string => {
          const file = join(dir, `${path}-${JSON.stringify(resources).replace(/\W+/g, '-')}.yaml`);
          const tree = path === 'resources' ? { resources } : { injector: { resources } };
          writeFileSync(
            file,
            stringify({ ...tree, injector: { enabled: true, ...tree.injector } }),
          );
          return file;
        };
        const run = (resources: Record<string, unknown>) =>
          runTool(helm.bin, [
            'template',
            'vap',
            CHART,
            ...valuesArgs([values(resources)], WITH_IMAGE),
          ]);
        for (const quantity of ['1KB', '-1', '1 Gi', 'ten']) {
          const r = run({ requests: { memory: quantity }, limits: { memory: '512Mi' } });
          expect(r.status).not.toBe(0);
          expect(r.stderr).toMatch(
            new RegExp(`${path.replace('.', '[./]')}[./]requests[./]memory`),
          );
        }
        const above = run({ requests: { memory: '1Gi' }, limits: { memory: '512Mi' } });
        expect(above.status).not.toBe(0);
        expect(above.stderr).toContain(
          `${path}.requests.memory: 1Gi is above the memory limit 512Mi (${path}.limits.memory)`,
        );
        const given = {
          requests: { cpu: '10m', memory: '96Mi', 'ephemeral-storage': '64Mi' },
          limits: { cpu: '', memory: '256Mi', 'ephemeral-storage': '1Gi', 'hugepages-2Mi': 0 },
        };
        const taken = run(given);
        expect(taken).toMatchObject({ status: 0, stderr: '' });
        // "" is none, which Kubernetes would refuse as a quantity.
        expect(taken.stdout).not.toMatch(/cpu: ""/);
      },
    );
  });

  describe('sidecar named template, included by an application chart', () => {
    let rendered: Rendered;
    beforeAll(() => {
      rendered = renderSidecarApp(helm);
    });

    it('renders the app with the proxy as a native sidecar on loopback', () => {
      expect(rendered.objects.map((o) => o.kind)).toEqual(['Deployment']);
      expect(schemaProblems(rendered.objects)).toEqual([]);
      expect(workloadProblems(rendered.objects)).toEqual([]);
      expect(secretProblems(rendered)).toEqual([]);
      expect(secretReadProblems(rendered.objects)).toEqual([]);
      expect(appConfigProblems(rendered.objects)).toEqual([]);
      const spec = at(rendered.objects[0], 'spec', 'template', 'spec');
      const sidecar = records(at(spec, 'initContainers'))[0];
      expect(sidecar).toMatchObject({ name: 'vidispine-auth-proxy', restartPolicy: 'Always' });
      const env = Object.fromEntries(records(sidecar?.env).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ PROXY_LISTEN: '127.0.0.1:8080', VIDISPINE_USER: 'legacy-app' });
      expect(at(spec, 'containers', 0, 'env', 0, 'value')).toBe('http://127.0.0.1:8080/API');
      expect(at(spec, 'volumes', 0, 'secret', 'secretName')).toBe('legacy-app-vidispine');
      // The dependency's values win over the caller's chart metadata: the proxy image keeps its own tag.
      expect(sidecar?.image).toBe(`${IMAGE}:0.1.0`);
      // The sidecar defaults as they are (test/inject/one-sidecar: the webhook's), no merge
      // with the gateway's resources.
      expect(sidecar?.resources).toEqual(
        at(readYaml(join(CHART, 'values.yaml')), 'sidecar', 'resources'),
      );
    });
  });
});

describe('values.schema.json', () => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
    schema,
  );
  const errors = (values: unknown): string[] =>
    validate(values)
      ? []
      : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  const defaults = readYaml(join(CHART, 'values.yaml'));

  it.each(['values.yaml', ...exampleFiles.map((f) => `examples/${f}`)])('accepts %s', (file) => {
    expect(errors(readYaml(join(CHART, file)))).toEqual([]);
  });

  it("accepts the sidecar example's values for the dependency", () => {
    expect(
      errors(at(readYaml(join(SIDECAR_APP_CHART, 'values.yaml')), 'vidispine-auth-proxy')),
    ).toEqual([]);
  });

  it('describes every value in values.yaml', () => {
    const undescribed: string[] = [];
    const walk = (value: unknown, node: unknown, path: string): void => {
      if (typeof at(node, 'description') !== 'string') undescribed.push(path);
      const props = at(node, 'properties');
      if (
        value === null ||
        typeof value !== 'object' ||
        Array.isArray(value) ||
        props === undefined
      )
        return;
      for (const [k, v] of Object.entries(value)) walk(v, at(props, k), `${path}.${k}`);
    };
    walk(defaults, { description: 'root', properties: at(schema, 'properties') }, 'values');
    expect(undescribed).toEqual([]);
  });

  // Every number the chart hands the proxy, held to the proxy's own range (read from its
  // schema, so the two cannot drift): one past it would lint and render, and the pod exit 2.
  describe('numbers the proxy takes, bounded as the proxy bounds them', () => {
    const numbers = chartNumbers();

    it("reads them from the proxy's schema", () => {
      expect(numbers.map((n) => dotted(n.path))).toEqual(
        expect.arrayContaining([
          'config.vidispine.maxSockets',
          'config.users[].token.seconds',
          'config.shutdown.drainSeconds',
          'token.seconds',
        ]),
      );
    });

    it.each(numbers.map((n): [string, NumericKey] => [dotted(n.path), n]))('%s', (_name, n) => {
      expect(boundsOf(schemaNodeAt(schema, n.path))).toEqual(n.bounds);
    });
  });

  // Every string of the config block the proxy holds to a form (read from its schema): the
  // chart refuses it empty, and where the proxy has a pattern, the chart takes the characters
  // the proxy takes, so a value that lints and renders does not make the pod exit 2.
  describe('strings the proxy takes, refused as the proxy refuses them', () => {
    const strings = proxyStringKeys();
    const PROBES = ['', ...Array.from({ length: 256 }, (_, c) => String.fromCharCode(c)), '取'];
    const instancePath = (path: readonly string[]): string =>
      `/config/${path.map((step) => (step === '[]' ? '0' : step)).join('/')}`;
    const chartRefuses = (path: readonly string[], value: string): boolean => {
      const values: Record<string, unknown> = {};
      setAt(values, ['config', ...path], value);
      validate(values);
      return (validate.errors ?? []).some((e) => e.instancePath === instancePath(path));
    };

    it("reads them from the proxy's schema", () => {
      expect(strings.map((k) => dotted(k.path))).toEqual(
        expect.arrayContaining([
          'users[].name',
          'users[].selectUserHeader',
          'users[].accessKey.id',
        ]),
      );
    });

    it.each(strings.map((k): [string, StringKey] => [dotted(k.path), k]))('config.%s', (_n, k) => {
      const proxyRefuses = (value: string): boolean =>
        value.length < (k.minLength ?? 0) ||
        (k.pattern !== undefined && !new RegExp(k.pattern, 'u').test(value));
      const judged = k.pattern === undefined ? [''] : PROBES;
      const disagreements = judged.filter((v) => chartRefuses(k.path, v) !== proxyRefuses(v));
      expect(disagreements).toEqual([]);
    });
  });

  it.each([
    ['a misspelt key', { replicas: 3 }, 'must NOT have additional properties'],
    [
      'a literal password in the config',
      { config: { users: [{ name: 'a', password: 'pw' }] } },
      'additional',
    ],
    ['a URL without scheme', { vidispine: { url: 'vidispine:8080' } }, 'must match pattern'],
    ['no data port', { service: { ports: [] } }, 'must NOT have fewer than 1 items'],
  ])('rejects %s', (_what, values, message) => {
    expect(errors(values).join('\n')).toContain(message);
  });
});
