import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { appConfigProblems, appConfigs } from './app-config';
import { proxyContainers, secretReadProblems, workloadProblems } from './checks';
import { podProblems } from '../../src/inject/pod-checks';
import { CREDENTIAL_COMPONENTS, IMAGE_USER } from './contract';
import {
  CHART,
  HELMS,
  K8sObject,
  ROOT,
  Rendered,
  at,
  byKind,
  records,
  renderAppWithSidecar,
  renderKustomization,
  renderWithSidecarComponent,
  schemaProblems,
} from './render';

// The sidecar added to workloads that know nothing of the proxy, with whatever pod
// settings they have: the kustomize component and the Helm named template must work
// without any pod-level change, leave the app's user alone and still let the proxy read
// its Secret as Kubernetes mounts it.

type Pod = Record<string, unknown>;

const STOCK_PODS: [string, Pod][] = [
  ['no securityContext at all', {}],
  ['the app running as root', { securityContext: { runAsUser: 0, runAsGroup: 0 } }],
  [
    'its own uid, fsGroup and supplemental groups',
    {
      securityContext: {
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 2000,
        supplementalGroups: [3000],
      },
    },
  ],
];

function workload(kind: 'Deployment' | 'StatefulSet', pod: Pod): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'shop' },
    spec: {
      ...(kind === 'StatefulSet' ? { serviceName: 'shop' } : {}),
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: {
          ...pod,
          initContainers: [
            { name: 'migrate', image: 'registry.example.com/shop:2', args: ['migrate'] },
          ],
          containers: [{ name: 'shop', image: 'registry.example.com/shop:2' }],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}

const podOf = (objects: readonly K8sObject[]): Pod =>
  at(
    objects.find((o) => o.metadata.name === 'shop'),
    'spec',
    'template',
    'spec',
  ) as Pod;

/** What a sidecar must leave of the app's pod: everything but the added init container and volume. */
function appPart(pod: Pod): Pod {
  return {
    ...pod,
    initContainers: records(pod.initContainers).filter((c) => c.name !== 'vidispine-auth-proxy'),
    volumes: records(pod.volumes).filter((v) => v.name !== 'vidispine-auth-proxy-credentials'),
  };
}

function expectSidecarAdded(rendered: Rendered, stock: K8sObject): void {
  const { objects } = rendered;
  expect(schemaProblems(objects)).toEqual([]);
  expect(workloadProblems(objects)).toEqual([]);
  expect(secretReadProblems(objects)).toEqual([]);
  expect(appConfigProblems(objects)).toEqual([]);
  const [proxy] = proxyContainers(objects);
  expect(proxy?.sidecar).toBe(true);
  expect(proxy?.env.get('PROXY_LISTEN')?.value).toBe('127.0.0.1:8080');
  // Stopped after the app's containers: no delay for requests that can no longer come.
  expect(proxy?.env.get('SHUTDOWN_DELAY_SECONDS')?.value).toBe('0');
  const pod = podOf(objects);
  const stockPod = at(stock, 'spec', 'template', 'spec') as Pod;
  expect(appPart(pod)).toEqual(stockPod);
  // The proxy starts first, so the app's own init containers can reach Vidispine too.
  expect(records(pod.initContainers).map((c) => c.name)).toEqual([
    'vidispine-auth-proxy',
    'migrate',
  ]);
}

describe.each(['Deployment', 'StatefulSet'] as const)(
  'kustomize component onto a stock %s',
  (kind) => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'vap-component-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each(STOCK_PODS)('with %s', (what, pod) => {
      const stock = workload(kind, pod);
      const app = join(dir, what.replace(/\W+/g, '-'));
      expectSidecarAdded(renderWithSidecarComponent(app, stock), stock);
    });
  },
);

describe('kustomize credential components onto a stock StatefulSet', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vap-credential-component-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(Object.entries(CREDENTIAL_COMPONENTS))('%s', (component, { config, file }) => {
    const stock = workload('StatefulSet', {});
    const rendered = renderWithSidecarComponent(join(dir, component), stock, {
      more: [component],
      env: config,
    });
    expectSidecarAdded(rendered, stock);
    const [proxy] = proxyContainers(rendered.objects);
    // One credential: the component's file instead of the password's.
    const files = [...(proxy?.env.values() ?? [])].filter((e) => String(e.name).endsWith('_FILE'));
    expect(files).toEqual([
      { name: file[0], value: `/var/run/secrets/vidispine-auth-proxy/${file[1]}` },
    ]);
  });
});

// The webhook sees the pod and refuses one whose settings would hand the proxy's identity to
// others; the component and the named template cannot, so their READMEs must name each such
// setting the webhook refuses.
it("warns in the component's and the template's READMEs of each pod setting the webhook refuses as unsafe", () => {
  const unsafe = (['hostNetwork', 'shareProcessNamespace', 'hostPID'] as const).filter(
    (field) =>
      podProblems({ spec: { containers: [{ name: 'app' }], [field]: true } }, IMAGE_USER).length >
      0,
  );
  expect(unsafe).toHaveLength(3);
  const warnings = [
    [
      'README.md',
      /Neither it nor the chart's sidecar template sees the pod[\s\S]*?through `\/proc`/,
    ],
    [
      'helm/vidispine-auth-proxy/README.md',
      /the template cannot see the pod[\s\S]*?through `\/proc`/,
    ],
  ] as const;
  for (const [file, warning] of warnings) {
    const text = warning.exec(readFileSync(join(ROOT, file), 'utf8'))?.[0] ?? '';
    expect(unsafe.filter((field) => !text.includes(`\`${field}: true\``))).toEqual([]);
  }
});

describe.each(HELMS)('$name: named template in an existing chart', (helm) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vap-app-chart-'));
    cpSync(CHART, join(dir, 'vidispine-auth-proxy'), { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(STOCK_PODS)('with %s', (what, pod) => {
    const stock = workload('Deployment', pod);
    // The chart README's recipe: a dependency, three values, two includes.
    const rendered = renderAppWithSidecar(helm, join(dir, what.replace(/\W+/g, '-')), stock, {
      gateway: { enabled: false },
      image: { repository: 'registry.example.com/vidispine-auth-proxy' },
      vidispine: { url: 'http://vidispine.media.svc:8080', user: 'shop' },
      credentials: { existingSecret: 'shop-vidispine' },
    });
    expectSidecarAdded(rendered, stock);
  });

  it('refuses a sidecar.resources request above its limit, naming it', () => {
    expect(() =>
      renderAppWithSidecar(helm, join(dir, 'request-above-limit'), workload('Deployment', {}), {
        gateway: { enabled: false },
        image: { repository: 'registry.example.com/vidispine-auth-proxy' },
        sidecar: { resources: { requests: { cpu: '600m' } } },
      }),
    ).toThrow(
      'sidecar.resources.requests.cpu: 600m is above the cpu limit 500m (sidecar.resources.limits.cpu): lower the request or raise the limit',
    );
  });

  // null is Helm's way to delete a map of defaults, from the parent chart's values too.
  it('takes gateway: null as no gateway, and refuses probes: null naming it', () => {
    const values = {
      gateway: null,
      image: { repository: 'registry.example.com/vidispine-auth-proxy' },
    };
    const { objects } = renderAppWithSidecar(
      helm,
      join(dir, 'gateway-null'),
      workload('Deployment', {}),
      values,
    );
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment']);
    expect(() =>
      renderAppWithSidecar(helm, join(dir, 'probes-null'), workload('Deployment', {}), {
        ...values,
        probes: null,
      }),
    ).toThrow(
      "probes is null, and Helm deletes a key set to null with every default under it, where the chart needs the timings of its probes: remove the null to keep the chart's, or set probes.startup, probes.readiness and probes.liveness",
    );
  });

  // The proxy's values for a gateway beside the sidecar template, or the template alone.
  const PROXY = {
    image: { repository: 'registry.example.com/vidispine-auth-proxy' },
    vidispine: { url: 'http://vidispine.media.svc:8080', user: 'shop' },
    credentials: { existingSecret: 'shop-vidispine' },
  };

  // The same probes values, one meaning of ready for both: every user holds a token.
  it("probes the sidecar's readiness and the gateway's on /readyz, with the same timings", () => {
    const rendered = renderAppWithSidecar(
      helm,
      join(dir, 'readiness'),
      workload('Deployment', {}),
      { ...PROXY, probes: { readiness: { periodSeconds: 7 } } },
    );
    const proxies = proxyContainers(rendered.objects);
    const readiness = (sidecar: boolean): unknown =>
      proxies.find((p) => p.sidecar === sidecar)?.container.readinessProbe;
    expect(readiness(true)).toEqual({
      httpGet: { path: '/readyz', port: 'proxy-ops' },
      periodSeconds: 7,
      timeoutSeconds: 2,
      failureThreshold: 2,
    });
    expect(readiness(false)).toEqual({
      httpGet: { path: '/readyz', port: 'proxy-ops' },
      periodSeconds: 7,
      timeoutSeconds: 2,
      failureThreshold: 2,
    });
  });

  describe("the gateway's extraEnv and the sidecar template's sidecar.extraEnv", () => {
    // What a gateway behind a slow load balancer, under its 256Mi limit, is given.
    const GATEWAY_ENV = [
      { name: 'SHUTDOWN_DELAY_SECONDS', value: '15' },
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=200' },
    ];
    const SIDECAR_ENV = [{ name: 'LOG_FORMAT', value: 'json' }];
    const envOf = (p: { env: Map<string, Record<string, unknown>> } | undefined): unknown[] => [
      ...(p?.env.values() ?? []),
    ];

    const gatewayAndSidecar = (name: string, more: Record<string, unknown>) => {
      const rendered = renderAppWithSidecar(helm, join(dir, name), workload('Deployment', {}), {
        ...PROXY,
        extraEnv: GATEWAY_ENV,
        terminationGracePeriodSeconds: 60,
        ...more,
      });
      expect(schemaProblems(rendered.objects)).toEqual([]);
      const proxies = proxyContainers(rendered.objects);
      return { sidecar: proxies.find((p) => p.sidecar), gateway: proxies.find((p) => !p.sidecar) };
    };

    it("keeps the gateway's extraEnv out of the sidecar template's container", () => {
      // sidecar: null, Helm's way to drop a map of defaults, is no sidecar.* at all.
      const { sidecar, gateway } = gatewayAndSidecar('gateway-env', { sidecar: null });
      expect(sidecar?.container.resources).toBeUndefined();
      expect(envOf(gateway)).toEqual(expect.arrayContaining(GATEWAY_ENV));
      // One entry of each name, so the kubelet's "last one wins" changes nothing.
      const names = records(sidecar?.container.env).map((e) => e.name);
      expect(new Set(names).size).toBe(names.length);
      expect(sidecar?.env.get('SHUTDOWN_DELAY_SECONDS')?.value).toBe('0');
      expect(sidecar?.env.has('NODE_OPTIONS')).toBe(false);
    });

    it("gives sidecar.extraEnv to the sidecar template's container alone", () => {
      const { sidecar, gateway } = gatewayAndSidecar('sidecar-env', {
        sidecar: { extraEnv: SIDECAR_ENV },
      });
      expect(envOf(sidecar)).toEqual(expect.arrayContaining(SIDECAR_ENV));
      expect(gateway?.env.has('LOG_FORMAT')).toBe(false);
      expect(envOf(gateway)).toEqual(expect.arrayContaining(GATEWAY_ENV));
    });

    it('refuses extraEnv beside a disabled gateway in the sidecar template, saying where it goes now', () => {
      expect(() =>
        renderAppWithSidecar(helm, join(dir, 'extra-env-no-gateway'), workload('Deployment', {}), {
          ...PROXY,
          gateway: { enabled: false },
          extraEnv: SIDECAR_ENV,
        }),
      ).toThrow(
        "extraEnv: the gateway's variables, and gateway.enabled is false: the sidecar template takes sidecar.extraEnv; move them there",
      );
    });

    it('refuses the listeners in sidecar.extraEnv, naming it', () => {
      expect(() =>
        renderAppWithSidecar(helm, join(dir, 'sidecar-listen'), workload('Deployment', {}), {
          ...PROXY,
          gateway: { enabled: false },
          sidecar: { extraEnv: [{ name: 'PROXY_LISTEN', value: '0.0.0.0:8080' }] },
        }),
      ).toThrow('sidecar.extraEnv: PROXY_LISTEN is set by the chart');
    });

    it('refuses a secret written into sidecar.extraEnv, naming it but not its value', () => {
      const secret = { name: 'VIDISPINE_ACCESS_KEY_SECRET', value: 's3cr3t' };
      expect(() =>
        renderAppWithSidecar(helm, join(dir, 'sidecar-secret'), workload('Deployment', {}), {
          ...PROXY,
          gateway: { enabled: false },
          sidecar: { extraEnv: [secret] },
        }),
      ).toThrow(
        /^(?![\s\S]*s3cr3t)[\s\S]*sidecar\.extraEnv: VIDISPINE_ACCESS_KEY_SECRET holds a secret, and its value is written in the values: [^\n]*put it in the Secret under credentials\.accessKeySecretKey and remove it from sidecar\.extraEnv(?:\n|$)/,
      );
    });
  });

  describe("the gateway's extraVolumes and the sidecar template's sidecar.extraVolumes", () => {
    // A gateway's own disk, named as apps name theirs: the app's pod has a volume "data".
    const GATEWAY_VOLUMES = {
      extraVolumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'gateway-data' } }],
      extraVolumeMounts: [{ name: 'data', mountPath: '/var/lib/gateway' }],
    };
    const SIDECAR_VOLUMES = {
      extraVolumes: [{ name: 'proxy-tmp', emptyDir: { medium: 'Memory' } }],
      extraVolumeMounts: [
        { name: 'proxy-tmp', mountPath: '/tmp' },
        // The app's own volume, which the sidecar template may mount too.
        { name: 'data', mountPath: '/srv/shop', readOnly: true },
      ],
    };
    const named = (list: unknown, name: string): Record<string, unknown>[] =>
      records(list).filter((e) => e.name === name);

    const render = (name: string, more: Record<string, unknown>) => {
      const rendered = renderAppWithSidecar(helm, join(dir, name), workload('Deployment', {}), {
        ...PROXY,
        ...more,
      });
      expect(schemaProblems(rendered.objects)).toEqual([]);
      const proxies = proxyContainers(rendered.objects);
      return {
        app: podOf(rendered.objects),
        sidecar: proxies.find((p) => p.sidecar)?.container,
        gateway: proxies.find((p) => !p.sidecar),
      };
    };

    it("keeps the gateway's volumes and mounts out of the app's pod", () => {
      const { app, sidecar, gateway } = render('gateway-volumes', GATEWAY_VOLUMES);
      expect(named(gateway?.spec.volumes, 'data')).toEqual(GATEWAY_VOLUMES.extraVolumes);
      expect(named(gateway?.container.volumeMounts, 'data')).toEqual(
        GATEWAY_VOLUMES.extraVolumeMounts,
      );
      // One volume of each name (a second "data" makes the pod invalid), and the app's own.
      expect(named(app.volumes, 'data')).toEqual([{ name: 'data', emptyDir: {} }]);
      expect(named(sidecar?.volumeMounts, 'data')).toEqual([]);
    });

    it("gives sidecar.extraVolumes and sidecar.extraVolumeMounts to the app's pod and its sidecar alone", () => {
      const { app, sidecar, gateway } = render('sidecar-volumes', {
        sidecar: SIDECAR_VOLUMES,
      });
      expect(named(app.volumes, 'proxy-tmp')).toEqual(SIDECAR_VOLUMES.extraVolumes);
      expect(named(app.volumes, 'data')).toEqual([{ name: 'data', emptyDir: {} }]);
      expect(records(sidecar?.volumeMounts)).toEqual(
        expect.arrayContaining(SIDECAR_VOLUMES.extraVolumeMounts),
      );
      expect(named(gateway?.spec.volumes, 'proxy-tmp')).toEqual([]);
      expect(records(gateway?.container.volumeMounts).map((m) => m.mountPath)).not.toContain(
        '/tmp',
      );
    });

    it.each<[string, string, Record<string, unknown>]>([
      ['extraVolumes', 'volumes', { extraVolumes: SIDECAR_VOLUMES.extraVolumes }],
      [
        'extraVolumeMounts',
        'mounts',
        { extraVolumeMounts: [{ name: 'data', mountPath: '/srv/shop' }] },
      ],
    ])(
      'refuses %s beside a disabled gateway in the sidecar template, saying where it goes now',
      (key, what, more) => {
        expect(() =>
          renderAppWithSidecar(helm, join(dir, `${key}-no-gateway`), workload('Deployment', {}), {
            ...PROXY,
            gateway: { enabled: false },
            ...more,
          }),
        ).toThrow(
          `${key}: the gateway's ${what}, and gateway.enabled is false: the sidecar template takes sidecar.${key}; move them there`,
        );
      },
    );
  });

  const configSidecar = (listen: string, ca = '', more: Record<string, unknown> = {}): Rendered =>
    renderAppWithSidecar(
      helm,
      join(dir, `config-${listen}${ca}${JSON.stringify(more)}`.replace(/\W+/g, '-')),
      workload('Deployment', {}),
      {
        gateway: { enabled: false },
        image: { repository: 'registry.example.com/vidispine-auth-proxy' },
        vidispine: { ca },
        config: {
          vidispine: { url: 'http://vidispine.media.svc:8080' },
          users: [
            {
              name: 'shop',
              passwordFile: '/var/run/secrets/vidispine-auth-proxy/password',
              listen,
            },
          ],
          ...more,
        },
      },
    );

  it('serves a YAML config whose user listens on loopback, with no shutdown delay', () => {
    const { objects } = configSidecar('127.0.0.1:8080');
    expect(appConfigProblems(objects)).toEqual([]);
    // The file is the whole configuration: SHUTDOWN_DELAY_SECONDS would be ignored beside it.
    expect(appConfigs(objects)[0]?.config?.shutdown.delaySeconds).toBe(0);
  });

  it("keeps a YAML config's own shutdown settings", () => {
    const shutdown = (seconds: Record<string, number>): unknown =>
      appConfigs(configSidecar('127.0.0.1:8080', '', { shutdown: seconds }).objects)[0]?.config
        ?.shutdown;
    expect(shutdown({ drainSeconds: 10 })).toEqual({ delaySeconds: 0, drainSeconds: 10 });
    expect(shutdown({ delaySeconds: 2 })).toEqual({ delaySeconds: 2, drainSeconds: 30 });
  });

  it("rolls the app's pods when the YAML config changes, which the app's template cannot see", () => {
    // The proxy reads its file once, and the app's chart renders the pod template: without
    // a change there, `helm upgrade` updates the ConfigMap and restarts nothing.
    const [before, after] = [{}, { token: { seconds: 300 } }].map((more) => {
      const { objects } = configSidecar('127.0.0.1:8080', '', more);
      expect(appConfigProblems(objects)).toEqual([]);
      const [proxy] = proxyContainers(objects);
      return {
        config: proxy?.configText,
        pod: at(byKind(objects, 'Deployment')[0], 'spec', 'template'),
      };
    });
    expect(after?.config).not.toEqual(before?.config);
    expect(after?.pod).not.toEqual(before?.pod);
  });

  it("trusts vidispine.ca with a YAML config, mounted into the sidecar alone as the config's caFile", () => {
    const { objects } = configSidecar('127.0.0.1:8080', 'secret/media-ca');
    expect(appConfigProblems(objects)).toEqual([]);
    expect(appConfigs(objects)[0]?.config?.vidispine.caFile).toMatch(
      /\/etc\/vidispine-auth-proxy-ca\/ca\.crt$/,
    );
    const [proxy] = proxyContainers(objects);
    const mount = records(proxy?.container.volumeMounts).find(
      (m) => m.mountPath === '/etc/vidispine-auth-proxy-ca',
    );
    expect(mount).toMatchObject({ name: 'vidispine-auth-proxy-ca', readOnly: true });
    expect(records(proxy?.spec.volumes).find((v) => v.name === mount?.name)).toEqual({
      name: 'vidispine-auth-proxy-ca',
      secret: { secretName: 'media-ca', defaultMode: 0o444 },
    });
  });

  it('refuses a YAML config whose user listens beyond loopback, naming it', () => {
    expect(() => configSidecar('0.0.0.0:8080')).toThrow(
      'config.users[0].listen: "0.0.0.0:8080" is not on loopback',
    );
  });
});

describe("README's kustomize recipe", () => {
  const readmeSection = (): string => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    return readme.slice(readme.indexOf('### Add it to your app (kustomize)'));
  };

  /** A kustomization of `recipe` and `workloads`, this repository checked out beside it. */
  const renderRecipe = (recipe: string, workloads: readonly K8sObject[]): Rendered => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-readme-'));
    try {
      // The recipe's path: this repository checked out beside the app.
      symlinkSync(ROOT, join(dir, 'vidispine-auth-proxy'));
      const app = join(dir, 'my-app');
      mkdirSync(app);
      writeFileSync(join(app, 'workloads.yaml'), workloads.map((w) => stringify(w)).join('---\n'));
      writeFileSync(join(app, 'kustomization.yaml'), `resources: [workloads.yaml]\n${recipe}`);
      return renderKustomization(app);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('adds the proxy to a stock Deployment as written', () => {
    const recipe = /```yaml\n([\s\S]*?)```/.exec(readmeSection())?.[1] ?? '';
    expect(recipe).toContain('components:');
    const stock = workload('Deployment', {});
    expectSidecarAdded(renderRecipe(recipe, [stock]), stock);
  });

  // An app of its own on 9090 (metrics, often): the recipe moves the proxy's ops listener and
  // the port the probes ask, which a ConfigMap patch alone leaves; written as one
  // kustomization, since a second `patches:` key would silently replace the first.
  it('moves the ops listener and the port the probes ask together, as written', () => {
    const recipe = [...readmeSection().matchAll(/^```yaml\n([\s\S]*?)^```/gm)]
      .map(([, text = '']) => text)
      .find((text) => text.includes('OPS_LISTEN'));
    expect(recipe).toBeDefined();
    const { objects } = renderRecipe(recipe ?? '', [
      workload('Deployment', {}),
      workload('StatefulSet', {}),
    ]);
    expect(workloadProblems(objects)).toEqual([]);
    expect(appConfigProblems(objects)).toEqual([]);
    const proxies = proxyContainers(objects);
    expect(proxies.map((p) => p.where)).toHaveLength(2);
    for (const proxy of proxies) {
      expect(proxy.env.get('OPS_LISTEN')?.value).toBe('[::]:9091');
      expect(records(proxy.container.ports)).toEqual([
        { name: 'proxy-ops', containerPort: 9091, protocol: 'TCP' },
      ]);
    }
  });

  // The component's readiness is /readyz, the pod's with it; the README's way out for an
  // operator who wants the pods kept in their Services through a Vidispine outage.
  it("probes the proxy's readiness on /livez, its timings kept, as written", () => {
    const recipe = [...readmeSection().matchAll(/^```yaml\n([\s\S]*?)^```/gm)]
      .map(([, text = '']) => text)
      .find((text) => text.includes('readinessProbe'));
    expect(recipe).toBeDefined();
    const { objects } = renderRecipe(recipe ?? '', [
      workload('Deployment', {}),
      workload('StatefulSet', {}),
    ]);
    const proxies = proxyContainers(objects);
    expect(proxies.map((p) => p.where)).toHaveLength(2);
    for (const proxy of proxies) {
      expect(proxy.container.readinessProbe).toEqual({
        httpGet: { path: '/livez', port: 'proxy-ops' },
        periodSeconds: 5,
        timeoutSeconds: 2,
        failureThreshold: 2,
      });
      expect(at(proxy.container, 'startupProbe', 'httpGet', 'path')).toBe('/startupz');
    }
    // Nothing else moved: the deployment checks find the readiness path alone.
    expect(workloadProblems(objects).map((p) => p.replace(/^.*: /, ''))).toEqual([
      'readinessProbe path /livez, want /readyz',
      'readinessProbe path /livez, want /readyz',
    ]);
  });
});
