/**
 * The real `inject` command, sent AdmissionReviews over HTTPS as the API server sends them;
 * each returned JSONPatch is applied with fast-json-patch and the resulting pod is validated
 * against the Kubernetes schemas and the deployment checks the chart and kustomizations pass.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appConfigProblems, appConfigs } from '../deploy/app-config';
import { proxyContainers, secretReadProblems, workloadProblems } from '../deploy/checks';
import { type K8sObject, ROOT, at, records, schemaProblems } from '../deploy/render';
import { IMAGE, patched, podReview, type RunningWebhook, startWebhook } from '../support/inject';
import { expandedEnv } from '../support/kubelet-env';
import { parseExposition, value } from '../support/prom-parse';

type Pod = Record<string, unknown>;

const LABELS = { app: 'shop', 'vidispine-auth-proxy/inject': 'true' };
const ASKS = {
  'vidispine-auth-proxy/user': 'shop',
  'vidispine-auth-proxy/secret': 'shop-vidispine',
};

function pod(spec: Record<string, unknown>, annotations: Record<string, string> = ASKS): Pod {
  return { metadata: { generateName: 'shop-7d9c-', labels: { ...LABELS }, annotations }, spec };
}

/** A pod that opted out of deploy/monitoring's PodMonitor. */
function notScraped(spec: Record<string, unknown>): Pod {
  const p = pod(spec);
  const metadata = p.metadata as Record<string, unknown>;
  return {
    ...p,
    metadata: { ...metadata, labels: { ...LABELS, 'vidispine-auth-proxy/metrics': 'false' } },
  };
}

const APP = { name: 'shop', image: 'registry.example.com/shop:2' };

const asObject = (p: Pod, name = 'shop'): K8sObject =>
  ({ ...p, metadata: { ...(p.metadata as object), name } }) as K8sObject;

const spec = (p: Pod): Record<string, unknown> => at(p, 'spec') as Record<string, unknown>;
const names = (list: unknown): unknown[] => records(list).map((c) => c.name);
const sidecarOf = (p: Pod): Record<string, unknown> | undefined =>
  records(spec(p).initContainers).find((c) => c.name === 'vidispine-auth-proxy');

/** Everything the chart's and the kustomizations' workloads must satisfy, on one pod. */
function podProblems(p: Pod): string[] {
  const objects = [asObject(p)];
  return [
    ...schemaProblems(objects),
    ...workloadProblems(objects),
    ...secretReadProblems(objects),
    ...appConfigProblems(objects),
  ];
}

/** What `w` makes of `stock`: a pod Kubernetes, the deployment checks and the proxy accept. */
async function injected(w: RunningWebhook, stock: Pod): Promise<Pod> {
  const result = patched(stock, await w.review(podReview(stock)));
  expect(podProblems(result)).toEqual([]);
  return result;
}

const osIs = (operator: string, values: string[]): Record<string, unknown> => ({
  key: 'kubernetes.io/os',
  operator,
  values,
});

/** A required node affinity of one term per expression on the node's operating system. */
const requiredOs = (
  ...expressions: { operator: string; values: string[] }[]
): Record<string, unknown> => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: expressions.map(({ operator, values }) => ({
        matchExpressions: [osIs(operator, values)],
      })),
    },
  },
});

let webhook: RunningWebhook;
beforeAll(async () => {
  webhook = await startWebhook();
});
afterAll(async () => {
  await webhook.stop();
});

describe('a pod that asks for the proxy', () => {
  it('gets it as the first init container, a native sidecar with its probes, volume and hardening', async () => {
    const stock = pod({ containers: [APP] });
    const answer = await webhook.review(podReview(stock));
    expect(answer.allowed).toBe(true);
    expect(answer.raw).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
    });
    const result = patched(stock, answer);
    expect(podProblems(result)).toEqual([]);

    const sidecar = sidecarOf(result);
    expect(sidecar).toMatchObject({
      image: IMAGE,
      restartPolicy: 'Always',
      args: ['run'],
      ports: [{ name: 'proxy-ops', containerPort: 9090, protocol: 'TCP' }],
      // 10 min for the first token: a Vidispine outage at pod start is waited out, not
      // turned into restarts and their back-off.
      startupProbe: {
        httpGet: { path: '/startupz', port: 'proxy-ops' },
        periodSeconds: 1,
        failureThreshold: 600,
      },
      // Ready while every user holds a token, as the gateway.
      readinessProbe: { httpGet: { path: '/readyz', port: 'proxy-ops' } },
      livenessProbe: { httpGet: { path: '/livez', port: 'proxy-ops' } },
      volumeMounts: [
        {
          name: 'vidispine-auth-proxy-credentials',
          mountPath: '/var/run/secrets/vidispine-auth-proxy',
          readOnly: true,
        },
      ],
      securityContext: { runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true },
    });
    const [proxy] = proxyContainers([asObject(result)]);
    expect(Object.fromEntries([...(proxy?.env ?? [])].map(([k, e]) => [k, e.value]))).toEqual({
      VIDISPINE_URL: 'http://vidispine.media.svc:8080',
      VIDISPINE_USER: 'shop',
      VIDISPINE_PASSWORD_FILE: '/var/run/secrets/vidispine-auth-proxy/password',
      PROXY_LISTEN: '127.0.0.1:8080',
      OPS_LISTEN: '[::]:9090',
      TOKEN_SECONDS: '60',
      TOKEN_AUTO_REFRESH: 'false',
      LOG_LEVEL: 'info',
      // Stopped after the app's containers: nobody is left to send it requests.
      SHUTDOWN_DELAY_SECONDS: '0',
    });
    expect(spec(result).volumes).toEqual([
      {
        name: 'vidispine-auth-proxy-credentials',
        secret: { secretName: 'shop-vidispine', defaultMode: 0o444 },
      },
    ]);
    // The app is untouched: no env asked for, no securityContext anywhere in the pod.
    expect(spec(result).containers).toEqual([APP]);
    expect(spec(result).securityContext).toBeUndefined();
    expect(at(result, 'metadata', 'labels')).toEqual({
      ...LABELS,
      'vidispine-auth-proxy/metrics': 'true',
    });
    expect(at(result, 'metadata', 'annotations', 'vidispine-auth-proxy/status')).toBe('injected');
  });

  it("starts before the app's own init containers, which get the env variable too", async () => {
    const stock = pod(
      {
        initContainers: [
          { name: 'migrate', image: 'registry.example.com/shop:2', args: ['migrate'] },
        ],
        containers: [
          { ...APP, env: [{ name: 'MODE', value: 'web' }] },
          { name: 'worker', image: 'registry.example.com/shop:2' },
          {
            name: 'reports',
            image: 'registry.example.com/shop:2',
            env: [{ name: 'LANG', value: 'C' }],
          },
        ],
        volumes: [
          { name: 'data', emptyDir: {} },
          { name: 'config', configMap: { name: 'shop' } },
        ],
      },
      { ...ASKS, 'vidispine-auth-proxy/env': 'VIDISPINE_API', 'vidispine-auth-proxy/port': '8181' },
    );
    const result = await injected(webhook, stock);
    expect(names(spec(result).initContainers)).toEqual(['vidispine-auth-proxy', 'migrate']);
    expect(names(spec(result).volumes)).toEqual([
      'data',
      'config',
      'vidispine-auth-proxy-credentials',
    ]);
    const api = { name: 'VIDISPINE_API', value: 'http://127.0.0.1:8181/API' };
    expect(records(spec(result).initContainers)[1]?.env).toEqual([api]);
    expect(records(spec(result).containers)[0]?.env).toEqual([api, { name: 'MODE', value: 'web' }]);
    expect(records(spec(result).containers)[1]?.env).toEqual([api]);
    expect(records(spec(result).containers)[2]?.env).toEqual([api, { name: 'LANG', value: 'C' }]);
    expect(sidecarOf(result)?.env).toContainEqual({
      name: 'PROXY_LISTEN',
      value: '127.0.0.1:8181',
    });
  });

  it("sets the env variable before the app's own, so they can refer to it as $(NAME)", async () => {
    const own = [
      { name: 'ITEMS', value: '$(VIDISPINE_API)/item' },
      { name: 'SEARCH', value: '$(VIDISPINE_API)/search' },
    ];
    const stock = pod(
      {
        initContainers: [{ name: 'migrate', image: 'registry.example.com/shop:2', env: own }],
        containers: [{ ...APP, env: own }],
      },
      { ...ASKS, 'vidispine-auth-proxy/env': 'VIDISPINE_API' },
    );
    const result = await injected(webhook, stock);
    const app = [records(spec(result).initContainers)[1], records(spec(result).containers)[0]];
    for (const c of app) {
      expect(expandedEnv(new Map(), records(c?.env))).toEqual([
        { name: 'VIDISPINE_API', value: 'http://127.0.0.1:8080/API' },
        { name: 'ITEMS', value: 'http://127.0.0.1:8080/API/item' },
        { name: 'SEARCH', value: 'http://127.0.0.1:8080/API/search' },
      ]);
    }
  });

  describe("never changes a variable of the pod's own of that name", () => {
    const ENV_ASKS = { ...ASKS, 'vidispine-auth-proxy/env': 'VIDISPINE_API' };
    const API = { name: 'VIDISPINE_API', value: 'http://127.0.0.1:8080/API' };
    const DIRECT = { name: 'VIDISPINE_API', value: 'http://vidispine:8080/API?token=s3cr3t' };
    const FROM_CONFIG = {
      name: 'VIDISPINE_API',
      valueFrom: { configMapKeyRef: { name: 'shop', key: 'api' } },
    };
    const MIGRATE = { name: 'migrate', image: 'registry.example.com/shop:2', args: ['migrate'] };

    it.each<[string, Record<string, unknown>, string[]]>([
      [
        'an app container with a value of its own',
        { containers: [APP, { ...APP, name: 'worker', env: [DIRECT] }] },
        ['container "worker" sets VIDISPINE_API itself'],
      ],
      [
        'an app container with a reference (valueFrom)',
        { containers: [{ ...APP, env: [{ name: 'LANG', value: 'C' }, FROM_CONFIG] }] },
        ['container "shop" sets VIDISPINE_API itself'],
      ],
      [
        'an init container that starts after the proxy, and an app container',
        {
          initContainers: [{ ...MIGRATE, env: [DIRECT] }],
          containers: [{ ...APP, env: [DIRECT] }],
        },
        [
          'init container "migrate" sets VIDISPINE_API itself',
          'container "shop" sets VIDISPINE_API itself',
        ],
      ],
      [
        "the webhook's own value beside one of the pod's (Kubernetes takes the last)",
        { containers: [{ ...APP, env: [API, DIRECT] }] },
        ['container "shop" sets VIDISPINE_API itself'],
      ],
    ])(
      'denies a pod with %s, naming the container and the variable',
      async (_what, podSpec, clashes) => {
        const answer = await webhook.review(podReview(pod(podSpec, ENV_ASKS)));
        expect(answer.allowed).toBe(false);
        expect(answer.patch).toBeUndefined();
        const message = answer.status?.message ?? '';
        expect(message).toMatch(/^cannot add the vidispine-auth-proxy sidecar: /);
        for (const clash of clashes)
          expect(message).toContain(`vidispine-auth-proxy/env: ${clash}`);
        expect(message).toContain(
          'or set vidispine-auth-proxy/env to a variable the pod does not set',
        );
        // The pod's own value may hold anything, a credential included: never quoted.
        expect(message).not.toContain('s3cr3t');
        expect(message).not.toContain('vidispine:8080');
      },
    );

    it("leaves the pod's own where the proxy's URL does not go (init containers before the proxy), and one that already is its URL", async () => {
      const kuma = {
        name: 'kuma-sidecar',
        image: 'docker.io/kumahq/kuma-dp:2.9.0',
        restartPolicy: 'Always',
      };
      const vault = { name: 'vault-agent-init', image: 'hashicorp/vault:1.18', env: [DIRECT] };
      const stock = pod(
        {
          initContainers: [vault, kuma, { ...MIGRATE, env: [API] }],
          containers: [{ ...APP, env: [{ name: 'LANG', value: 'C' }, API] }],
        },
        { ...ENV_ASKS, 'vidispine-auth-proxy/start-after': 'kuma-sidecar' },
      );
      const result = await injected(webhook, stock);
      expect(names(spec(result).initContainers)).toEqual([
        'vault-agent-init',
        'kuma-sidecar',
        'vidispine-auth-proxy',
        'migrate',
      ]);
      expect(records(spec(result).initContainers)[0]).toEqual(vault);
      // Set once, where it stood: no second entry.
      expect(records(spec(result).initContainers)[3]?.env).toEqual([API]);
      expect(records(spec(result).containers)[0]?.env).toEqual([{ name: 'LANG', value: 'C' }, API]);
    });

    it('on reinvocation, denies a pod another webhook gave a container setting the variable itself', async () => {
      const added = structuredClone(await injected(webhook, pod({ containers: [APP] }, ENV_ASKS)));
      (spec(added).containers as unknown[]).push({
        name: 'log-shipper',
        image: 'registry.example.com/shipper:1',
        env: [FROM_CONFIG],
      });
      const answer = await webhook.review(podReview(added));
      expect(answer.allowed).toBe(false);
      expect(answer.status?.message).toMatch(
        /^the pod changed after the vidispine-auth-proxy sidecar was added/,
      );
      expect(answer.status?.message).toContain(
        'vidispine-auth-proxy/env: container "log-shipper" sets VIDISPINE_API itself',
      );
    });
  });

  it.each<[string, Record<string, unknown> | undefined]>([
    ['an empty securityContext', {}],
    [
      'a restrictive one (own uid, fsGroup, supplemental groups, seccomp, non-root)',
      {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 2000,
        supplementalGroups: [3000],
        seccompProfile: { type: 'RuntimeDefault' },
      },
    ],
    ['the app running as root', { runAsUser: 0, runAsGroup: 0 }],
  ])('works whatever the pod asks of its containers: %s', async (_what, securityContext) => {
    const app = {
      ...APP,
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    };
    const stock = pod({ securityContext, containers: [app] });
    const result = await injected(webhook, stock);
    // The pod's settings and the app's uid stay what they were; the proxy brings its own.
    expect(spec(result).securityContext).toEqual(securityContext);
    expect(spec(result).containers).toEqual([app]);
    expect(sidecarOf(result)?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('takes its settings from the annotations', async () => {
    const stock = pod(
      { containers: [APP] },
      {
        'vidispine-auth-proxy/user': 'reporting',
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
        'vidispine-auth-proxy/secret': 'reporting-key',
        'vidispine-auth-proxy/vidispine-url': 'https://vidispine.example.com',
        'vidispine-auth-proxy/ops-port': '9191',
        'vidispine-auth-proxy/token-seconds': '3600',
        'vidispine-auth-proxy/token-auto-refresh': ' True ',
        // A word in any case, as a boolean's: written for the proxy as it reads it.
        'vidispine-auth-proxy/log-level': 'DEBUG',
        'vidispine-auth-proxy/cpu-request': '10m',
        'vidispine-auth-proxy/cpu-limit': '2',
        'vidispine-auth-proxy/memory-request': '32Mi',
        'vidispine-auth-proxy/memory-limit': '1Gi',
      },
    );
    const result = await injected(webhook, stock);
    const sidecar = sidecarOf(result);
    expect(sidecar?.env).toEqual(
      expect.arrayContaining([
        { name: 'VIDISPINE_URL', value: 'https://vidispine.example.com' },
        { name: 'VIDISPINE_USER', value: 'reporting' },
        // The key's ID is the Basic user name; its secret is read from the Secret.
        { name: 'VIDISPINE_ACCESS_KEY_ID', value: 'VSID2C56CQTA7DWW7DLF' },
        {
          name: 'VIDISPINE_ACCESS_KEY_SECRET_FILE',
          value: '/var/run/secrets/vidispine-auth-proxy/access-key',
        },
        { name: 'OPS_LISTEN', value: '[::]:9191' },
        { name: 'TOKEN_SECONDS', value: '3600' },
        { name: 'TOKEN_AUTO_REFRESH', value: 'true' },
        { name: 'LOG_LEVEL', value: 'debug' },
      ]),
    );
    expect(records(sidecar?.env).map((e) => e.name)).not.toContain('VIDISPINE_PASSWORD_FILE');
    expect(sidecar?.ports).toEqual([{ name: 'proxy-ops', containerPort: 9191, protocol: 'TCP' }]);
    expect(sidecar?.resources).toEqual({
      requests: { cpu: '10m', memory: '32Mi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
  });

  // One whitespace rule with the proxy's variables (every value but a secret's is trimmed):
  // no annotation holds a secret, only the names of where one is.
  it("reads every annotation's value with the space around it trimmed, as the proxy reads a variable's", async () => {
    const settings = {
      'vidispine-auth-proxy/user': 'reporting',
      'vidispine-auth-proxy/credential': 'access-key',
      'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
      'vidispine-auth-proxy/secret': 'reporting-key',
      'vidispine-auth-proxy/secret-key': 'key',
      'vidispine-auth-proxy/vidispine-url': 'https://vidispine.example.com',
      'vidispine-auth-proxy/vidispine-ca': 'configmap/vidispine-ca',
      'vidispine-auth-proxy/vidispine-ca-key': 'bundle.pem',
      'vidispine-auth-proxy/env': 'VIDISPINE_API',
      'vidispine-auth-proxy/port': '8081',
      'vidispine-auth-proxy/ops-port': '9191',
      'vidispine-auth-proxy/token-seconds': '2147483647',
      'vidispine-auth-proxy/token-auto-refresh': 'true',
      'vidispine-auth-proxy/log-level': 'debug',
      'vidispine-auth-proxy/cpu-request': '10m',
      'vidispine-auth-proxy/cpu-limit': '2',
      'vidispine-auth-proxy/memory-request': '32Mi',
      'vidispine-auth-proxy/memory-limit': '1Gi',
    };
    const padded = Object.fromEntries(
      Object.entries(settings).map(([name, v]) => [name, ` \t${v}\n `]),
    );
    const plain = await injected(webhook, pod({ containers: [APP] }, settings));
    const spaced = await injected(webhook, pod({ containers: [APP] }, padded));
    expect(spec(spaced)).toEqual(spec(plain));
    expect(records(sidecarOf(spaced)?.env)).toEqual(
      expect.arrayContaining([
        { name: 'TOKEN_SECONDS', value: '2147483647' },
        { name: 'PROXY_LISTEN', value: '127.0.0.1:8081' },
      ]),
    );
  });

  it("refuses an annotation's number past the proxy's bound with the space around it too", async () => {
    const answer = await webhook.review(
      podReview(
        pod(
          { containers: [APP] },
          { ...ASKS, 'vidispine-auth-proxy/token-seconds': ' 2147483648 ' },
        ),
      ),
    );
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/token-seconds: "2147483648" must be at most 2147483647 (Vidispine\'s limit)',
    );
  });

  it("takes for token-auto-refresh exactly the words the README's table lists, in any case", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const row = readme
      .split('\n')
      .find((l) => l.startsWith('| `vidispine-auth-proxy/token-auto-refresh` |'));
    const value = row?.split(' | ')[1] ?? '';
    const listed = [...value.matchAll(/`([^`]+)`/g)].map((m) => String(m[1]));
    const taken = async (word: string): Promise<string | undefined> => {
      const asks = { ...ASKS, 'vidispine-auth-proxy/token-auto-refresh': word };
      const answer = await webhook.review(podReview(pod({ containers: [APP] }, asks)));
      if (!answer.allowed) return undefined;
      const env = records(sidecarOf(patched(pod({ containers: [APP] }, asks), answer))?.env);
      return env.find((e) => e.name === 'TOKEN_AUTO_REFRESH')?.value as string | undefined;
    };
    const candidates = ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', 'y', 'n', 'enabled'];
    const accepted: string[] = [];
    for (const word of candidates) if ((await taken(word)) !== undefined) accepted.push(word);
    expect(listed).toEqual(accepted);
    expect(value).toContain('in any case');
    for (const word of listed) {
      expect(await taken(word.toUpperCase())).toBe(await taken(word));
    }
  });

  it('takes values at the edge of what the proxy accepts, and the proxy loads them', async () => {
    const stock = pod(
      {
        // Port 1 is bindable without privileges only where the pod's sysctl makes it so.
        securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '1' }] },
        containers: [APP],
      },
      {
        ...ASKS,
        'vidispine-auth-proxy/secret-key': '.password..v2',
        'vidispine-auth-proxy/port': '65535',
        'vidispine-auth-proxy/ops-port': '1',
        'vidispine-auth-proxy/token-seconds': '2147483647',
        'vidispine-auth-proxy/memory-request': '1Ei',
        'vidispine-auth-proxy/memory-limit': '2Ei',
      },
    );
    const result = await injected(webhook, stock);
    const [loaded] = appConfigs([asObject(result)]);
    expect(loaded?.config?.users[0]?.token.seconds).toBe(2147483647);
    expect(at(sidecarOf(result), 'resources', 'limits', 'memory')).toBe('2Ei');
    expect(records(sidecarOf(result)?.env)).toContainEqual({
      name: 'VIDISPINE_PASSWORD_FILE',
      value: '/var/run/secrets/vidispine-auth-proxy/.password..v2',
    });
  });

  it('takes a quantity with a sign, as Kubernetes does, and compares it by value', async () => {
    const signed = {
      ...ASKS,
      'vidispine-auth-proxy/cpu-request': '+100m',
      'vidispine-auth-proxy/cpu-limit': '+1',
    };
    const result = await injected(webhook, pod({ containers: [APP] }, signed));
    expect(at(sidecarOf(result), 'resources')).toMatchObject({
      requests: { cpu: '+100m' },
      limits: { cpu: '+1' },
    });
    const above = { ...signed, 'vidispine-auth-proxy/cpu-request': '+1500m' };
    const answer = await webhook.review(podReview(pod({ containers: [APP] }, above)));
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/cpu-request: +1500m is above the cpu limit +1',
    );
  });

  it('never clashes with the names the pod uses itself', async () => {
    const stock = notScraped({
      containers: [
        { ...APP, ports: [{ name: 'proxy-ops', containerPort: 7000 }] },
        {
          name: 'metrics',
          image: 'registry.example.com/exporter:1',
          ports: [{ name: 'proxy-ops-2', containerPort: 7001 }],
        },
      ],
      volumes: [
        { name: 'vidispine-auth-proxy-credentials', secret: { secretName: 'something-else' } },
      ],
    });
    const result = await injected(webhook, stock);
    const sidecar = sidecarOf(result);
    expect(sidecar?.ports).toEqual([{ name: 'proxy-ops-3', containerPort: 9090, protocol: 'TCP' }]);
    expect(at(sidecar, 'startupProbe', 'httpGet', 'port')).toBe('proxy-ops-3');
    expect(records(sidecar?.volumeMounts)[0]?.name).toBe('vidispine-auth-proxy-credentials-2');
    expect(spec(result).volumes).toEqual([
      { name: 'vidispine-auth-proxy-credentials', secret: { secretName: 'something-else' } },
      {
        name: 'vidispine-auth-proxy-credentials-2',
        secret: { secretName: 'shop-vidispine', defaultMode: 0o444 },
      },
    ]);
  });

  it('gets its own sidecar when the pod before it asked for another, or for the same one', async () => {
    const plain = pod({ containers: [APP] });
    // Differs from the plain pod's only in a name the pod takes, or in one nested value.
    const clash = notScraped({
      containers: [{ ...APP, ports: [{ name: 'proxy-ops', containerPort: 7000 }] }],
    });
    const limited = pod({ containers: [APP] }, { ...ASKS, 'vidispine-auth-proxy/cpu-limit': '1' });
    const other = pod({ containers: [APP] }, { ...ASKS, 'vidispine-auth-proxy/user': 'archive' });
    const seen: unknown[][] = [];
    for (const stock of [plain, plain, clash, plain, limited, plain, other, other, plain]) {
      const sidecar = sidecarOf(await injected(webhook, stock));
      seen.push([
        records(sidecar?.env).find((e) => e.name === 'VIDISPINE_USER')?.value,
        records(sidecar?.ports)[0]?.name,
        at(sidecar, 'resources', 'limits', 'cpu'),
      ]);
    }
    const [shop, clashed, one, archive] = [
      ['shop', 'proxy-ops', '500m'],
      ['shop', 'proxy-ops-2', '500m'],
      ['shop', 'proxy-ops', '1'],
      ['archive', 'proxy-ops', '500m'],
    ];
    expect(seen).toEqual([shop, shop, clashed, shop, one, shop, archive, archive, shop]);
  });
});

describe("sidecars minted by the webhook's accounts", () => {
  // The administrator with its password, the RunAs account with an access key.
  let accounts: RunningWebhook;
  beforeAll(async () => {
    accounts = await startWebhook({
      SIDECAR_ADMIN_USER: 'admin',
      SIDECAR_ADMIN_SECRET: 'vidispine-admin',
      SIDECAR_ADMIN_SECRET_KEY: 'admin-password',
      SIDECAR_RUNAS_USER: 'runas-svc',
      SIDECAR_RUNAS_SECRET: 'vidispine-runas',
      SIDECAR_RUNAS_ACCESS_KEY_ID: 'VSIDRUNAS0000000001',
    });
  });
  afterAll(async () => {
    await accounts.stop();
  });

  const minted = async (credential: string): Promise<Pod> => {
    const stock = pod(
      { containers: [APP] },
      { 'vidispine-auth-proxy/user': 'shop', 'vidispine-auth-proxy/credential': credential },
    );
    const result = await injected(accounts, stock);
    return result;
  };

  it.each([
    [
      'admin',
      'vidispine-admin',
      [
        { name: 'VIDISPINE_ADMIN_USER', value: 'admin' },
        {
          name: 'VIDISPINE_ADMIN_PASSWORD_FILE',
          value: '/var/run/secrets/vidispine-auth-proxy/admin-password',
        },
      ],
    ],
    [
      'runas',
      'vidispine-runas',
      [
        { name: 'VIDISPINE_RUNAS_USER', value: 'runas-svc' },
        { name: 'VIDISPINE_RUNAS_ACCESS_KEY_ID', value: 'VSIDRUNAS0000000001' },
        {
          name: 'VIDISPINE_RUNAS_ACCESS_KEY_SECRET_FILE',
          // An account with an access key ID reads its secret from the key "access-key".
          value: '/var/run/secrets/vidispine-auth-proxy/access-key',
        },
      ],
    ],
  ])(
    "credential %s: mount the account's Secret and mint with its credential alone",
    async (credential, secret, accountEnv) => {
      const result = await minted(credential);
      const env = records(sidecarOf(result)?.env);
      expect(env).toContainEqual({ name: 'VIDISPINE_USER', value: 'shop' });
      const credentials = env.filter((e) => /PASSWORD|ACCESS_KEY|ADMIN|RUNAS/.test(String(e.name)));
      expect(credentials).toEqual(accountEnv);
      expect(records(spec(result).volumes)[0]).toMatchObject({ secret: { secretName: secret } });
    },
  );

  it('the RunAs account with an access key, as the proxy loads it', async () => {
    const result = await minted('runas');
    const [config] = appConfigs([asObject(result)]);
    expect(config?.config?.vidispine.runAs).toMatchObject({
      username: 'runas-svc',
      kind: 'accessKey',
      basicUser: 'VSIDRUNAS0000000001',
    });
  });

  it.each([
    [
      'a Secret of its own with an account-minted credential',
      { 'vidispine-auth-proxy/credential': 'runas', 'vidispine-auth-proxy/secret': 'shop-key' },
      [
        "vidispine-auth-proxy/secret: not used with credential runas (the webhook's sidecar.runAs Secret is mounted): remove it",
      ],
    ],
    [
      'a RunAs-minted user whose name no header can carry',
      { 'vidispine-auth-proxy/credential': 'runas', 'vidispine-auth-proxy/user': 'Ωmega' },
      [
        'vidispine-auth-proxy/user: "Ωmega" cannot be sent in a RunAs header (only Latin-1 characters): give the user its own credential',
      ],
    ],
    [
      'an access key ID without credential access-key',
      {
        'vidispine-auth-proxy/credential': 'admin',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
      },
      [
        "vidispine-auth-proxy/access-key-id: only used with credential access-key (this pod's is admin): remove it, or set vidispine-auth-proxy/credential: access-key",
      ],
    ],
    [
      'an access key without its Secret: the accounts the webhook has are offered',
      {
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
      },
      [
        "vidispine-auth-proxy/secret: required for an access-key credential: set it to the name of the Secret holding the access key's secret (or set vidispine-auth-proxy/credential: admin or runas for tokens minted by the webhook's account, and remove vidispine-auth-proxy/access-key-id)",
      ],
    ],
  ])('deny %s', async (_what, annotations, expected) => {
    const answer = await accounts.review(
      podReview(
        pod({ containers: [APP] }, { 'vidispine-auth-proxy/user': 'shop', ...annotations }),
      ),
    );
    expect(answer.allowed).toBe(false);
    for (const text of expected) expect(answer.status?.message).toContain(text);
  });

  it.each([
    [
      'an access key ID',
      {
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
      },
    ],
    ['a key in the Secret', { 'vidispine-auth-proxy/secret-key': 'pw' }],
    [
      'both',
      {
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
        'vidispine-auth-proxy/secret-key': 'secret',
      },
    ],
  ])(
    'a pod without its Secret but with %s that does what the denial offers is admitted: no second denial',
    async (_what, annotations) => {
      const asked = { 'vidispine-auth-proxy/user': 'shop', ...annotations };
      const denied = await accounts.review(podReview(pod({ containers: [APP] }, asked)));
      const message = denied.status?.message ?? '';
      const offered = /or set vidispine-auth-proxy\/credential: (\w+)/.exec(message)?.[1];
      expect(offered).toBe('admin');
      const removed = /, and remove ([^)]+)\)/.exec(message)?.[1]?.split(' and ') ?? [];
      const followed: Record<string, string> = {
        ...asked,
        'vidispine-auth-proxy/credential': offered ?? '',
      };
      for (const name of removed) delete followed[name];
      const answer = await accounts.review(podReview(pod({ containers: [APP] }, followed)));
      expect(answer.status?.message).toBeUndefined();
      expect(answer.allowed).toBe(true);
    },
  );

  it('a pod without its Secret is offered the one account a webhook has, not the other', async () => {
    const adminOnly = await startWebhook({
      SIDECAR_ADMIN_USER: 'admin',
      SIDECAR_ADMIN_SECRET: 'vidispine-admin',
    });
    try {
      const answer = await adminOnly.review(
        podReview(pod({ containers: [APP] }, { 'vidispine-auth-proxy/user': 'shop' })),
      );
      expect(answer.status?.message).toBe(
        "cannot add the vidispine-auth-proxy sidecar: vidispine-auth-proxy/secret: required for a password credential: set it to the name of the Secret holding the user's password (or set vidispine-auth-proxy/credential: admin for tokens minted by the webhook's account)",
      );
    } finally {
      await adminOnly.stop();
    }
  });
});

describe('names with a $ in them', () => {
  // Kubernetes expands $(NAME) in env values from the variables before it and turns $$
  // into $: what the proxy reads must be the name as written, whatever the kubelet does.
  const ADMIN = 'ad$$min$(HOME)';
  const USER = 'shop$$1$(VIDISPINE_URL)$';
  const KEY_ID = 'VSID$(VIDISPINE_USER)$$';
  let dollars: RunningWebhook;
  beforeAll(async () => {
    dollars = await startWebhook({
      SIDECAR_ADMIN_USER: ADMIN,
      SIDECAR_ADMIN_SECRET: 'vidispine-admin',
      SIDECAR_ADMIN_SECRET_KEY: 'admin-password',
    });
  });
  afterAll(async () => {
    await dollars.stop();
  });

  it.each([
    ['minted by the administrator', { 'vidispine-auth-proxy/credential': 'admin' }],
    [
      'with an access key',
      {
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': KEY_ID,
        'vidispine-auth-proxy/secret': 'shop-key',
      },
    ],
  ])('reach the proxy as written: %s', async (_what, annotations) => {
    const stock = pod({ containers: [APP] }, { 'vidispine-auth-proxy/user': USER, ...annotations });
    const [loaded] = appConfigs([asObject(await injected(dollars, stock))]);
    expect(loaded?.problem).toBeUndefined();
    expect(loaded?.config?.users[0]?.name).toBe(USER);
    const { admin } = loaded?.config?.vidispine ?? {};
    if (admin) expect(admin.username).toBe(ADMIN);
    else expect(loaded?.config?.users[0]?.credential).toMatchObject({ basicUser: KEY_ID });
  });
});

describe('idempotent and reinvocation-safe', () => {
  it('leaves a pod that already has the sidecar as it is', async () => {
    const stock = pod(
      { containers: [APP] },
      { ...ASKS, 'vidispine-auth-proxy/env': 'VIDISPINE_API' },
    );
    const once = patched(stock, await webhook.review(podReview(stock)));
    const again = await webhook.review(podReview(once));
    expect(again.allowed).toBe(true);
    expect(again.patch).toBeUndefined();
  });

  it("leaves alone a pod whose sidecar came from the chart's template or the component", async () => {
    const stock = pod({
      initContainers: [{ name: 'vidispine-auth-proxy', image: IMAGE, restartPolicy: 'Always' }],
      containers: [APP],
    });
    const answer = await webhook.review(podReview(stock));
    expect(answer).toMatchObject({ allowed: true });
    expect(answer.patch).toBeUndefined();
  });

  it('on reinvocation, only points containers added since (by another webhook) at the proxy', async () => {
    const stock = pod(
      { containers: [APP] },
      { ...ASKS, 'vidispine-auth-proxy/env': 'VIDISPINE_API' },
    );
    const once = patched(stock, await webhook.review(podReview(stock)));
    const added = structuredClone(once);
    (spec(added).containers as unknown[]).push({
      name: 'log-shipper',
      image: 'registry.example.com/shipper:1',
    });
    const answer = await webhook.review(podReview(added));
    expect(answer.patch).toEqual([
      {
        op: 'add',
        path: '/spec/containers/1/env',
        value: [{ name: 'VIDISPINE_API', value: 'http://127.0.0.1:8080/API' }],
      },
    ]);
    const result = patched(added, answer);
    expect(podProblems(result)).toEqual([]);
    expect(names(spec(result).initContainers)).toEqual(['vidispine-auth-proxy']);
  });

  it.each([
    [
      'declares the ops port',
      { ports: [{ containerPort: 9090 }] },
      'vidispine-auth-proxy/ops-port: port 9090 is already declared by container "exporter": set a free port',
    ],
    [
      'listens on the data port, as its probe shows',
      { readinessProbe: { tcpSocket: { port: 8080 } } },
      'vidispine-auth-proxy/port: port 8080 is probed in container "exporter" (readinessProbe)',
    ],
    [
      "names a port as the proxy's metrics port, which the PodMonitor would scrape instead",
      { ports: [{ name: 'proxy-ops', containerPort: 7000 }] },
      'vidispine-auth-proxy/inject: container "exporter" has a port named proxy-ops',
    ],
  ])(
    'on reinvocation, denies a pod another webhook gave a container that %s, naming the clash',
    async (_what, fields, clash) => {
      const added = structuredClone(await injected(webhook, pod({ containers: [APP] })));
      (spec(added).containers as unknown[]).push({
        name: 'exporter',
        image: 'registry.example.com/exporter:1',
        ...fields,
      });
      const answer = await webhook.review(podReview(added));
      expect(answer.allowed).toBe(false);
      expect(answer.status?.message).toContain(clash);
    },
  );

  it('on reinvocation, leaves a pod whose sidecar took names of its own (the app had ours) as it is', async () => {
    const stock = notScraped({
      containers: [{ ...APP, ports: [{ name: 'proxy-ops', containerPort: 7000 }] }],
      volumes: [{ name: 'vidispine-auth-proxy-credentials', emptyDir: {} }],
    });
    const answer = await webhook.review(podReview(await injected(webhook, stock)));
    expect(answer.allowed).toBe(true);
    expect(answer.patch).toBeUndefined();
  });
});

describe('a pod with a bad or incomplete annotation set is denied, naming what to set', () => {
  it.each<[string, Record<string, string>, string[]]>([
    [
      'nothing but the label',
      {},
      ['vidispine-auth-proxy/user: required', 'vidispine-auth-proxy/secret: required'],
    ],
    [
      'no Secret for its password',
      { 'vidispine-auth-proxy/user': 'shop' },
      [
        'vidispine-auth-proxy/secret: required for a password credential: set it to the name of the Secret',
      ],
    ],
    [
      'a misspelt annotation',
      { ...ASKS, 'vidispine-auth-proxy/usr': 'x' },
      ['vidispine-auth-proxy/usr: unknown annotation'],
    ],
    [
      'values that are not what they should be',
      {
        ...ASKS,
        'vidispine-auth-proxy/port': '80800',
        'vidispine-auth-proxy/token-seconds': '-5',
        'vidispine-auth-proxy/token-auto-refresh': 'Sometimes',
        'vidispine-auth-proxy/log-level': 'loud',
        'vidispine-auth-proxy/memory-limit': 'lots',
        'vidispine-auth-proxy/env': 'VIDISPINE API',
        'vidispine-auth-proxy/vidispine-url': 'http://vidispine:8080/API',
        'vidispine-auth-proxy/credential': 'kerberos',
      },
      [
        'vidispine-auth-proxy/port: "80800" is not a port',
        'vidispine-auth-proxy/token-seconds: "-5" is not a positive whole number',
        'vidispine-auth-proxy/token-auto-refresh: "Sometimes" is not a boolean: set true, false, 1, 0, yes or no (in any case)',
        'vidispine-auth-proxy/log-level: "loud"',
        'vidispine-auth-proxy/memory-limit: "lots" is not a Kubernetes quantity',
        'vidispine-auth-proxy/env: "VIDISPINE API" is not an environment variable name',
        'vidispine-auth-proxy/vidispine-url: give the base URL without /API',
        'vidispine-auth-proxy/credential: the value (not shown: it may be a secret) is not one of password, access-key, admin, runas',
      ],
    ],
    [
      'a token lifetime above what Vidispine can grant',
      { ...ASKS, 'vidispine-auth-proxy/token-seconds': '2147483648' },
      [
        'vidispine-auth-proxy/token-seconds: "2147483648" must be at most 2147483647 (Vidispine\'s limit)',
      ],
    ],
    [
      'a token lifetime past what a number holds exactly',
      { ...ASKS, 'vidispine-auth-proxy/token-seconds': '9999999999999999999999' },
      [
        'vidispine-auth-proxy/token-seconds: "9999999999999999999999" must be at most 2147483647 (Vidispine\'s limit)',
      ],
    ],
    [
      'a token lifetime one past the largest exact number',
      { ...ASKS, 'vidispine-auth-proxy/token-seconds': '9007199254740993' },
      [
        'vidispine-auth-proxy/token-seconds: "9007199254740993" must be at most 2147483647 (Vidispine\'s limit)',
      ],
    ],
    [
      'a URL and a Secret key left empty',
      {
        ...ASKS,
        'vidispine-auth-proxy/vidispine-url': '',
        'vidispine-auth-proxy/secret-key': ' ',
      },
      [
        "vidispine-auth-proxy/vidispine-url: empty: set the VidiCore base URL (e.g. http://vidispine.media.svc:8080), or remove it for the webhook's sidecar.vidispineUrl",
        "vidispine-auth-proxy/secret-key: empty: set the key in the Secret that holds the user's password, or remove it for the default (password)",
      ],
    ],
    [
      'the opt-in label written as an annotation',
      { ...ASKS, 'vidispine-auth-proxy/inject': 'true' },
      [
        'vidispine-auth-proxy/inject: the opt-in label, not an annotation: set it in metadata.labels and remove it from metadata.annotations',
      ],
    ],
    [
      'the scraping opt-out label written as an annotation, beside the others',
      { ...ASKS, 'vidispine-auth-proxy/metrics': 'false' },
      [
        "vidispine-auth-proxy/metrics: the label deploy/monitoring's PodMonitor scrapes pods by, not an annotation: set it in metadata.labels and remove it from metadata.annotations",
      ],
    ],
    [
      'a Secret name and key Kubernetes refuses',
      {
        ...ASKS,
        'vidispine-auth-proxy/secret': 'Shop_Vidispine',
        'vidispine-auth-proxy/secret-key': '.',
      },
      [
        'vidispine-auth-proxy/secret: the value (not shown: it may be a secret) must be a Secret name',
        "vidispine-auth-proxy/secret-key: the value (not shown: it may be a secret) must not be '.' or begin with '..'",
      ],
    ],
    [
      "an access key's Secret key naming the folder above it, and a token lifetime far too long",
      {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
        'vidispine-auth-proxy/secret': 'shop-key',
        'vidispine-auth-proxy/secret-key': '..',
        'vidispine-auth-proxy/token-seconds': '3000000000',
      },
      [
        "vidispine-auth-proxy/secret-key: the value (not shown: it may be a secret) must not be '.' or begin with '..'",
        'vidispine-auth-proxy/token-seconds: "3000000000" must be at most 2147483647',
      ],
    ],
    [
      'a request above its limit',
      {
        ...ASKS,
        'vidispine-auth-proxy/memory-request': '1Gi',
        'vidispine-auth-proxy/memory-limit': '512Mi',
      },
      ['vidispine-auth-proxy/memory-request: 1Gi is above the memory limit 512Mi'],
    ],
    [
      'a request in exabytes, above the default limit',
      { ...ASKS, 'vidispine-auth-proxy/memory-request': '1E' },
      ['vidispine-auth-proxy/memory-request: 1E is above the memory limit 192Mi'],
    ],
    [
      'a request in exbibytes above a limit in exabytes',
      {
        ...ASKS,
        'vidispine-auth-proxy/memory-request': '2Ei',
        'vidispine-auth-proxy/memory-limit': '1E',
      },
      ['vidispine-auth-proxy/memory-request: 2Ei is above the memory limit 1E'],
    ],
    [
      'admin minting where the webhook has no admin credential',
      { 'vidispine-auth-proxy/user': 'shop', 'vidispine-auth-proxy/credential': 'admin' },
      ['vidispine-auth-proxy/credential: admin is not available: the webhook has no sidecar.admin'],
    ],
    [
      'RunAs minting where the webhook has no RunAs account',
      { 'vidispine-auth-proxy/user': 'shop', 'vidispine-auth-proxy/credential': 'runas' },
      [
        'vidispine-auth-proxy/credential: runas is not available: the webhook has no sidecar.runAs account configured; use password or access-key with a Secret',
      ],
    ],
    [
      'a user name the proxy would refuse',
      { ...ASKS, 'vidispine-auth-proxy/user': 'shop:admin' },
      ['vidispine-auth-proxy/user: "shop:admin" must not contain \':\''],
    ],
    [
      'an access key without its ID',
      { ...ASKS, 'vidispine-auth-proxy/credential': 'access-key' },
      [
        "vidispine-auth-proxy/access-key-id: required for an access-key credential: set it to the key's ID",
      ],
    ],
    [
      'an access key ID the proxy would refuse, and no Secret',
      {
        'vidispine-auth-proxy/user': 'shop',
        'vidispine-auth-proxy/credential': 'access-key',
        'vidispine-auth-proxy/access-key-id': 'VSID 2C56:CQTA',
      },
      [
        "vidispine-auth-proxy/access-key-id: the value (not shown: it may be a secret) must be the key's ID as Vidispine shows it",
        "vidispine-auth-proxy/secret: required for an access-key credential: set it to the name of the Secret holding the access key's secret",
      ],
    ],
    [
      'an access key ID with a password',
      { ...ASKS, 'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF' },
      [
        "vidispine-auth-proxy/access-key-id: only used with credential access-key (this pod's is password)",
      ],
    ],
  ])('%s', async (_what, annotations, expected) => {
    const answer = await webhook.review(podReview(pod({ containers: [APP] }, annotations)));
    expect(answer.allowed).toBe(false);
    expect(answer.patch).toBeUndefined();
    expect(answer.status?.code).toBe(400);
    for (const text of expected) expect(answer.status?.message).toContain(text);
  });

  describe('never quotes a value that may be a secret pasted in the wrong place', () => {
    // What a user might paste where a Secret's name, its key or an access key's ID goes: a
    // denial is logged, and shown in the ReplicaSet's events, so it must not carry it.
    const PASTED = 'Tr0ub4dor&3';
    it.each<[string, Record<string, string>, string]>([
      [
        'a password as the Secret name',
        { 'vidispine-auth-proxy/secret': PASTED },
        'vidispine-auth-proxy/secret: the value (not shown: it may be a secret) must be a Secret name',
      ],
      [
        'a password as the key in the Secret',
        { 'vidispine-auth-proxy/secret-key': PASTED },
        'vidispine-auth-proxy/secret-key: the value (not shown: it may be a secret) must be a Secret key',
      ],
      [
        'a password as the credential',
        { 'vidispine-auth-proxy/credential': PASTED },
        'vidispine-auth-proxy/credential: the value (not shown: it may be a secret) is not one of password, access-key, admin, runas',
      ],
      [
        'a password as the credential, beside an access key ID',
        {
          'vidispine-auth-proxy/credential': PASTED,
          'vidispine-auth-proxy/access-key-id': 'VSID2C56CQTA7DWW7DLF',
        },
        "vidispine-auth-proxy/access-key-id: only used with credential access-key (this pod's is not access-key): remove it",
      ],
      [
        "an access key's secret as its ID",
        {
          'vidispine-auth-proxy/credential': 'access-key',
          // The Basic form of the key, secret and all.
          'vidispine-auth-proxy/access-key-id': `VSID2C56CQTA7DWW7DLF:${PASTED}`,
        },
        "vidispine-auth-proxy/access-key-id: the value (not shown: it may be a secret) must be the key's ID",
      ],
    ])('%s', async (_what, annotations, expected) => {
      const stock = pod({ containers: [APP] }, { ...ASKS, ...annotations });
      const answer = await webhook.review(podReview(stock));
      expect(answer.allowed).toBe(false);
      expect(answer.status?.message).toContain(expected);
      expect(answer.status?.message).not.toContain('Tr0ub4dor');
      // The denial's log line, written once the answer is sent.
      const logged = await webhook.child.waitFor(
        (l) => l.event === 'admission' && l.uid === answer.uid,
      );
      expect(JSON.stringify(logged)).toContain(expected);
      expect(webhook.child.stdout.join('')).not.toContain('Tr0ub4dor');
    });
  });

  describe('names the annotation the pod set, and says when the other value is a default', () => {
    const denial = async (annotations: Record<string, string>): Promise<string> => {
      const answer = await webhook.review(
        podReview(pod({ containers: [APP] }, { ...ASKS, ...annotations })),
      );
      expect(answer.allowed).toBe(false);
      return answer.status?.message ?? '';
    };

    it.each<[string, Record<string, string>, string, string]>([
      [
        'a data port on the default ops port',
        { 'vidispine-auth-proxy/port': '9090' },
        "vidispine-auth-proxy/port: 9090 is also the ops port (vidispine-auth-proxy/ops-port's default): set a different one",
        'vidispine-auth-proxy/ops-port:',
      ],
      [
        'an ops port on the default data port',
        { 'vidispine-auth-proxy/ops-port': '8080' },
        "vidispine-auth-proxy/ops-port: 8080 is also the data port (vidispine-auth-proxy/port's default): set a different one",
        'vidispine-auth-proxy/port:',
      ],
      [
        'both ports set to one',
        { 'vidispine-auth-proxy/port': '8181', 'vidispine-auth-proxy/ops-port': '8181' },
        'vidispine-auth-proxy/ops-port: 8181 is also the data port (vidispine-auth-proxy/port): set a different one',
        'vidispine-auth-proxy/port:',
      ],
      [
        'a cpu limit below the default request',
        { 'vidispine-auth-proxy/cpu-limit': '10m' },
        "vidispine-auth-proxy/cpu-limit: 10m is below the cpu request 25m (the webhook's default): raise it or set vidispine-auth-proxy/cpu-request",
        'vidispine-auth-proxy/cpu-request:',
      ],
      [
        'a memory request above the default limit',
        { 'vidispine-auth-proxy/memory-request': '1Gi' },
        "vidispine-auth-proxy/memory-request: 1Gi is above the memory limit 192Mi (the webhook's default): lower it or set vidispine-auth-proxy/memory-limit",
        'vidispine-auth-proxy/memory-limit:',
      ],
      [
        'a request and a limit both set',
        { 'vidispine-auth-proxy/cpu-request': '2', 'vidispine-auth-proxy/cpu-limit': '1' },
        'vidispine-auth-proxy/cpu-request: 2 is above the cpu limit 1: lower it or raise vidispine-auth-proxy/cpu-limit',
        'vidispine-auth-proxy/cpu-limit:',
      ],
    ])('%s', async (_what, annotations, expected, unset) => {
      const message = await denial(annotations);
      expect(message).toContain(expected);
      expect(message).not.toContain(unset);
    });
  });

  it('a pod without its Secret, on a webhook with no account of its own, is offered no credential the webhook cannot mint with', async () => {
    const answer = await webhook.review(
      podReview(pod({ containers: [APP] }, { 'vidispine-auth-proxy/user': 'shop' })),
    );
    // The whole message: "credential: admin or runas" here would only earn a second denial,
    // "admin is not available: the webhook has no sidecar.admin account configured".
    expect(answer.status?.message).toBe(
      "cannot add the vidispine-auth-proxy sidecar: vidispine-auth-proxy/secret: required for a password credential: set it to the name of the Secret holding the user's password",
    );
  });

  it('an annotation written among the labels is told it is one', async () => {
    const stock = pod({ containers: [APP] }, { 'vidispine-auth-proxy/secret': 'shop-vidispine' });
    const metadata = stock.metadata as { labels: Record<string, string> };
    metadata.labels['vidispine-auth-proxy/user'] = 'shop';
    const answer = await webhook.review(podReview(stock));
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/user: an annotation, not a label: set it in metadata.annotations and remove it from metadata.labels',
    );
  });

  it.each([
    [
      'an annotation the pod also sets as one (a label to select pods by)',
      { 'vidispine-auth-proxy/user': 'shop' },
    ],
    ["the webhook's own status, which no pod sets", { 'vidispine-auth-proxy/status': 'new' }],
  ])('a label named like an annotation is no problem where it is %s', async (_what, labels) => {
    const stock = pod({ containers: [APP] });
    const metadata = stock.metadata as { labels: Record<string, string> };
    Object.assign(metadata.labels, labels);
    const answer = await webhook.review(podReview(stock));
    expect(answer.status?.message).toBeUndefined();
    expect(answer.allowed).toBe(true);
  });

  it('a pod with thousands of problems gets the first ten and a count, and its denial is logged', async () => {
    // 5,000 misspelt annotations fit the API server's 256 KiB; one line for each, every
    // line listing the known ones, made a 1.3 MB answer and a log line too long to be written.
    const annotations: Record<string, string> = { ...ASKS };
    for (let i = 0; i < 5000; i++) annotations[`vidispine-auth-proxy/usr${i}`] = 'x';
    const answer = await webhook.review(podReview(pod({ containers: [APP] }, annotations)));
    expect(answer.allowed).toBe(false);
    const message = answer.status?.message ?? '';
    expect(message).toContain('vidispine-auth-proxy/usr0: unknown annotation');
    expect(message).toContain('vidispine-auth-proxy/usr9: unknown annotation');
    expect(message).not.toContain('vidispine-auth-proxy/usr10:');
    expect(message.endsWith('; and 4990 more')).toBe(true);
    const logged = await webhook.child.waitFor(
      (l) => l.event === 'admission' && l.result === 'denied' && l.message === message,
    );
    expect(logged.message).toBe(message);
  });

  it("logs an access-key pod's denial as it answers it, what to set included", async () => {
    // The log blanks the value of a field whose name is a secret's, as `access-key: …` reads:
    // a denial that wrote the credential's name before its `:` lost what to set in the log.
    const answer = await webhook.review(
      podReview(
        pod(
          { containers: [APP] },
          { 'vidispine-auth-proxy/user': 'shop', 'vidispine-auth-proxy/credential': 'access-key' },
        ),
      ),
    );
    expect(answer.allowed).toBe(false);
    const message = answer.status?.message ?? '';
    expect(message).toContain(
      "access-key-id: required for an access-key credential: set it to the key's ID",
    );
    expect(message).toContain('secret: required for an access-key credential: set it to the name');
    const logged = await webhook.child.waitFor(
      (l) => l.event === 'admission' && l.uid === answer.uid,
    );
    expect(logged.message).toBe(message);
  });

  it('a URL with credentials is pointed at the Secret, never quoted', async () => {
    const answer = await webhook.review(
      podReview(
        pod(
          { containers: [APP] },
          { ...ASKS, 'vidispine-auth-proxy/vidispine-url': 'http://admin:hunter2@vidispine:8080' },
        ),
      ),
    );
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/vidispine-url: must not contain credentials: put the password in a Secret and set vidispine-auth-proxy/secret to its name',
    );
    expect(answer.status?.message).not.toMatch(/hunter2|admin:|users\[0\]/);
  });

  it('is logged at info, with the reasons; an injected pod only at debug', async () => {
    const injected = await webhook.review(podReview(pod({ containers: [APP] })));
    expect(injected.allowed).toBe(true);
    const denied = await webhook.review(
      podReview(pod({ containers: [APP] }, { 'vidispine-auth-proxy/user': 'shop' })),
    );
    // One stdout: the injected pod's line, had there been one, came first.
    const line = await webhook.child.waitFor(
      (l) => l.event === 'admission' && l.uid === denied.uid,
    );
    expect(line).toMatchObject({ level: 'info', result: 'denied' });
    expect(String(line.message)).toContain('vidispine-auth-proxy/secret: required');
    const results = webhook.child.lines.filter((l) => l.event === 'admission');
    expect(results.map((l) => l.uid)).not.toContain(injected.uid);
    expect(new Set(results.map((l) => l.result))).toEqual(new Set(['denied']));
  });

  it('a hostNetwork pod, whose loopback is the whole node', async () => {
    const answer = await webhook.review(podReview(pod({ hostNetwork: true, containers: [APP] })));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/inject: the pod uses hostNetwork',
    );
  });

  it("a pod sharing one process namespace, whose every container could read the proxy's credentials", async () => {
    const shared = await webhook.review(
      podReview(pod({ shareProcessNamespace: true, containers: [APP] })),
    );
    expect(shared.allowed).toBe(false);
    expect(shared.status?.message).toContain(
      "vidispine-auth-proxy/inject: the pod sets spec.shareProcessNamespace, so every container of the pod sees the proxy's process, and through /proc its credentials (its Secret's files and its memory): remove the label or spec.shareProcessNamespace",
    );
    const own = pod({ shareProcessNamespace: false, containers: [APP] });
    expect(sidecarOf(await injected(webhook, own))).toBeDefined();
  });

  it("a pod in the node's process namespace, where the node's processes and hostPID pods could read the proxy's credentials", async () => {
    const answer = await webhook.review(podReview(pod({ hostPID: true, containers: [APP] })));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      "vidispine-auth-proxy/inject: the pod sets spec.hostPID, so every process of the node and of its other hostPID pods sees the proxy's process, and through /proc its credentials (its Secret's files and its memory): remove the label or spec.hostPID",
    );
    const own = pod({ hostPID: false, containers: [APP] });
    expect(sidecarOf(await injected(webhook, own))).toBeDefined();
  });

  it.each([
    ['spec.os.name', { os: { name: 'windows' } }],
    ['its nodeSelector', { nodeSelector: { 'kubernetes.io/os': 'windows' } }],
    [
      'its required node affinity',
      { affinity: requiredOs({ operator: 'In', values: ['windows'] }) },
    ],
    [
      'its required node affinity, Linux left out',
      { affinity: requiredOs({ operator: 'NotIn', values: ['linux'] }) },
    ],
  ])(
    'a Windows pod (by %s), which the Linux proxy cannot join and whose sidecar Kubernetes would refuse',
    async (_by, windows) => {
      const answer = await webhook.review(podReview(pod({ ...windows, containers: [APP] })));
      expect(answer.allowed).toBe(false);
      expect(answer.status?.message).toContain(
        'vidispine-auth-proxy/inject: the pod runs on Windows',
      );
    },
  );

  it('a pod whose node affinity still lets it run on Linux: required in one term of two, or only preferred', async () => {
    const either = requiredOs(
      { operator: 'In', values: ['windows'] },
      { operator: 'In', values: ['linux'] },
    );
    const preferred = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [osIs('In', ['windows'])] } },
        ],
      },
    };
    for (const affinity of [either, preferred]) {
      const stock = pod({ affinity, containers: [APP] });
      expect(sidecarOf(await injected(webhook, stock))).toBeDefined();
    }
  });

  it('a pod whose required node affinity lists no terms (null, as Go encodes an empty list), left to the API server to refuse', async () => {
    const affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: null } },
    };
    const answer = await webhook.review(podReview(pod({ affinity, containers: [APP] })));
    expect(answer.allowed).toBe(true);
  });

  it('a Linux pod said to be one by spec.os.name', async () => {
    const stock = pod({ os: { name: 'linux' }, containers: [APP] });
    expect(sidecarOf(await injected(webhook, stock))).toBeDefined();
  });

  it.each([
    ['a letter off', 'vidispine-auth-proxi/env'],
    ['capitals', 'Vidispine-Auth-Proxy/env'],
    ['a domain added', 'vidispine-auth-proxy.io/env'],
    ['underscores', 'vidispine_auth_proxy/env'],
  ])(
    'an annotation whose prefix is misspelt (%s), pointing at the right one',
    async (_what, name) => {
      const answer = await webhook.review(
        podReview(pod({ containers: [APP] }, { ...ASKS, [name]: 'VIDISPINE_API' })),
      );
      expect(answer.allowed).toBe(false);
      expect(answer.status?.message).toContain(
        `${name}: not an annotation of the webhook's (did you mean vidispine-auth-proxy/env?)`,
      );
    },
  );

  it('a misspelt annotation, with the one meant', async () => {
    const answer = await webhook.review(
      podReview(
        pod({ containers: [APP] }, { ...ASKS, 'vidispine-auth-proxy/token-second': '600' }),
      ),
    );
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/token-second: unknown annotation (did you mean vidispine-auth-proxy/token-seconds? known: user,',
    );
  });

  it("leaves alone annotations of other tools that merely share a word with the webhook's", async () => {
    const stock = pod(
      { containers: [APP] },
      { ...ASKS, 'proxy.istio.io/config': '{}', 'vault.hashicorp.com/agent-inject': 'true' },
    );
    expect(sidecarOf(await injected(webhook, stock))).toBeDefined();
  });

  it('quotes a huge value only in part', async () => {
    const huge = 'x'.repeat(100_000);
    const answer = await webhook.review(
      podReview(
        pod(
          { containers: [APP] },
          {
            ...ASKS,
            'vidispine-auth-proxy/port': huge,
            'vidispine-auth-proxy/vidispine-url': huge,
          },
        ),
      ),
    );
    expect(answer.status?.message).toContain(
      `vidispine-auth-proxy/port: "${'x'.repeat(64)}…" is not a port`,
    );
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/vidispine-url: longer than 1024 characters',
    );
    expect(answer.status?.message.length).toBeLessThan(1000);
  });

  it('quotes values, container names and annotation names as text: bidi overrides and controls as ?, each cut short', async () => {
    // U+202E reverses what follows on a terminal; U+2066 and U+202A open other embeddings.
    const tricky = 'shop\u202Egnp.exe\u2066\u202A\u001b[2J';
    const long = '1'.repeat(300);
    const answer = await webhook.review(
      podReview(
        pod(
          {
            containers: [
              { ...APP, name: `${tricky}${'x'.repeat(100_000)}`, ports: [{ containerPort: 8080 }] },
            ],
          },
          {
            ...ASKS,
            'vidispine-auth-proxy/log-level': tricky,
            'vidispine-auth-proxy/memory-request': long,
            [`vidispine-auth-proxy/${tricky}`]: 'x',
          },
        ),
      ),
    );
    const message = answer.status?.message ?? '';
    const shown = 'shop?gnp.exe???[2J';
    expect(message).toContain(`vidispine-auth-proxy/log-level: "${shown}"`);
    expect(message).toContain(
      `vidispine-auth-proxy/memory-request: ${'1'.repeat(64)}… is above the memory limit 192Mi`,
    );
    expect(message).toContain(
      `vidispine-auth-proxy/port: port 8080 is already declared by container "${shown}${'x'.repeat(64 - shown.length)}…"`,
    );
    expect(message).toContain(`vidispine-auth-proxy/${shown}: unknown annotation`);
    expect(message).not.toMatch(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
    expect(message.length).toBeLessThan(2000);
  });

  it("a port of the app's named as the proxy's metrics port, in a pod the PodMonitor scrapes", async () => {
    const answer = await webhook.review(
      podReview(
        pod({ containers: [{ ...APP, ports: [{ name: 'proxy-ops', containerPort: 7000 }] }] }),
      ),
    );
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/inject: container "shop" has a port named proxy-ops, the name of the proxy\'s metrics port',
    );
    expect(answer.status?.message).toContain(
      'rename that port, or label the pod vidispine-auth-proxy/metrics: "false" not to be scraped',
    );
  });

  it('a port the app already declares', async () => {
    const answer = await webhook.review(
      podReview(
        pod({
          containers: [{ ...APP, ports: [{ containerPort: 8080 }, { containerPort: 9090 }] }],
        }),
      ),
    );
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/port: port 8080 is already declared by container "shop": set a free port',
    );
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/ops-port: port 9090 is already declared',
    );
  });

  it('a TCP port the app declares by its protocol; a UDP or SCTP port of the same number is no clash', async () => {
    const udp = [
      { containerPort: 8080, protocol: 'UDP' },
      { containerPort: 9090, protocol: 'SCTP' },
    ];
    const allowed = pod({ containers: [{ ...APP, ports: udp }] });
    expect(sidecarOf(await injected(webhook, allowed))).toBeDefined();
    const tcp = pod({
      containers: [{ ...APP, ports: [{ containerPort: 8080, protocol: 'TCP' }] }],
    });
    const answer = await webhook.review(podReview(tcp));
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/port: port 8080 is already declared by container "shop"',
    );
  });
});

describe('a Guaranteed pod, which the proxy would make Burstable', () => {
  // Every container with cpu and memory limits, and requests equal to them (or none: the API
  // server defaults them to the limits). Kubernetes counts init containers, native sidecars
  // included, so the proxy's 25m/96Mi requests under 500m/192Mi limits make the pod Burstable.
  const GUARANTEED = { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } };
  const WARNING =
    'Guaranteed pod made Burstable by sidecar: set vidispine-auth-proxy/cpu-request: 500m, memory-request: 192Mi';

  const review = (spec: Record<string, unknown>, annotations: Record<string, string> = {}) =>
    webhook.review(podReview(pod(spec, { ...ASKS, ...annotations })));

  it('is injected as asked, with a warning naming the annotations and values that keep it Guaranteed', async () => {
    const stock = pod({ containers: [{ ...APP, resources: GUARANTEED }] });
    const answer = await webhook.review(podReview(stock));
    expect(answer.allowed).toBe(true);
    expect(answer.warnings).toEqual([WARNING]);
    expect(WARNING.length).toBeLessThanOrEqual(120);
    // Warned, not changed: the proxy keeps the webhook's resources.
    expect(sidecarOf(patched(stock, answer))?.resources).toEqual({
      requests: { cpu: '25m', memory: '96Mi' },
      limits: { cpu: '500m', memory: '192Mi' },
    });
    const logged = await webhook.child.waitFor(
      (l) => l.event === 'admission' && l.uid === answer.uid,
    );
    expect(logged).toMatchObject({ level: 'info', warnings: [WARNING] });
  });

  it('is warned when its containers set limits alone, which the API server copies to requests', async () => {
    const limitsOnly = { limits: { cpu: '2', memory: '1Gi' } };
    const init = { name: 'migrate', image: 'registry.example.com/shop:2', resources: limitsOnly };
    const answer = await review({
      initContainers: [init],
      containers: [{ ...APP, resources: limitsOnly }],
    });
    expect(answer.warnings).toEqual([WARNING]);
  });

  it('names only what is left to set', async () => {
    const half = await review(
      { containers: [{ ...APP, resources: GUARANTEED }] },
      { 'vidispine-auth-proxy/cpu-request': '500m' },
    );
    expect(half.warnings).toEqual([
      'Guaranteed pod made Burstable by sidecar: set vidispine-auth-proxy/memory-request: 192Mi',
    ]);
    const kept = await review(
      { containers: [{ ...APP, resources: GUARANTEED }] },
      {
        'vidispine-auth-proxy/cpu-request': '500m',
        'vidispine-auth-proxy/memory-request': '192Mi',
      },
    );
    expect(kept.allowed).toBe(true);
    expect(kept.warnings).toBeUndefined();
  });

  it('is not warned when the annotations make the proxy Guaranteed in other spellings of one quantity', async () => {
    // 700m and 0.7 are one quantity to Kubernetes; as floats, 700 × 0.001 is not 0.7.
    const answer = await review(
      { containers: [{ ...APP, resources: GUARANTEED }] },
      {
        'vidispine-auth-proxy/cpu-request': '700m',
        'vidispine-auth-proxy/cpu-limit': '0.7',
        'vidispine-auth-proxy/memory-request': '201326592',
      },
    );
    expect(answer.allowed).toBe(true);
    expect(answer.warnings).toBeUndefined();
  });

  it('is warned within 120 characters by a webhook configured to give the proxy no resources', async () => {
    const bare = await startWebhook({
      SIDECAR_CPU_REQUEST: '',
      SIDECAR_MEMORY_REQUEST: '',
      SIDECAR_CPU_LIMIT: '',
      SIDECAR_MEMORY_LIMIT: '',
    });
    try {
      const answer = await bare.review(
        podReview(pod({ containers: [{ ...APP, resources: GUARANTEED }] }, ASKS)),
      );
      expect(answer.allowed).toBe(true);
      expect(answer.warnings).toEqual([
        'Guaranteed pod made Burstable by sidecar: set vidispine-auth-proxy/cpu-request=cpu-limit, memory-request=memory-limit',
      ]);
      expect(answer.warnings?.[0]?.length).toBeLessThanOrEqual(120);
    } finally {
      await bare.stop();
    }
  });

  it.each<[string, Record<string, unknown>]>([
    ['a pod without resources (BestEffort)', { containers: [APP] }],
    [
      'a Burstable pod (requests below limits)',
      {
        containers: [
          {
            ...APP,
            resources: {
              requests: { cpu: '1', memory: '1Gi' },
              limits: { cpu: '2', memory: '1Gi' },
            },
          },
        ],
      },
    ],
    [
      'a pod with a container without a memory limit',
      {
        containers: [
          { ...APP, resources: GUARANTEED },
          {
            name: 'sidecar',
            image: 'registry.example.com/s:1',
            resources: { limits: { cpu: '1' } },
          },
        ],
      },
    ],
    [
      'a pod whose init container has no limits',
      {
        initContainers: [{ name: 'migrate', image: 'registry.example.com/shop:2' }],
        containers: [{ ...APP, resources: GUARANTEED }],
      },
    ],
    [
      "a pod classed by resources of its own (spec.resources), which the proxy's do not change",
      {
        resources: { requests: { cpu: '3', memory: '2Gi' }, limits: { cpu: '3', memory: '2Gi' } },
        containers: [{ ...APP, resources: GUARANTEED }],
      },
    ],
  ])('is not warned: %s', async (_what, spec) => {
    const answer = await review(spec);
    expect(answer.allowed).toBe(true);
    expect(answer.warnings).toBeUndefined();
  });
});

describe("a pod with resources of its own (spec.resources), which its containers' requests must fit in", () => {
  /** The app asks for 100m and 64Mi; the proxy's defaults are 25m and 96Mi. */
  const budgeted = (requests: Record<string, string>, limits?: Record<string, string>): Pod =>
    pod({
      resources: { requests, ...(limits ? { limits } : {}) },
      containers: [{ ...APP, resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
    });

  it('is denied where the proxy would not fit, naming the pod field and the annotation', async () => {
    const answer = await webhook.review(podReview(budgeted({ cpu: '110m', memory: '128Mi' })));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      "vidispine-auth-proxy/cpu-request: the pod's spec.resources.requests.cpu (110m) must cover what its containers request, 125m with the proxy's 25m",
    );
    expect(answer.status?.message).toContain(
      "vidispine-auth-proxy/memory-request: the pod's spec.resources.requests.memory (128Mi) must cover what its containers request, 160Mi with the proxy's 96Mi",
    );
  });

  it('gets the proxy where it fits, or where the pod sets limits alone, or the proxy asks for less', async () => {
    const fits = budgeted({ cpu: '125m', memory: '160Mi' });
    const limitsAlone = pod({
      resources: { limits: { cpu: '1', memory: '1Gi' } },
      containers: [APP],
    });
    for (const stock of [fits, limitsAlone])
      expect(sidecarOf(await injected(webhook, stock))).toBeDefined();
    const less = budgeted({ cpu: '100m', memory: '64Mi' });
    const asked = {
      ...(less.metadata as { annotations: Record<string, string> }).annotations,
      'vidispine-auth-proxy/cpu-request': '0',
      'vidispine-auth-proxy/memory-request': '0',
    };
    const zero = { ...less, metadata: { ...(less.metadata as object), annotations: asked } };
    expect(sidecarOf(await injected(webhook, zero))).toBeDefined();
  });

  it('sums fractional bytes exactly, as Kubernetes does: two 1.1Gi containers and the proxy fit a pod of exactly their sum', async () => {
    // The API server writes 1.1Gi as 1181116006400m (bytes are not whole); the pod's
    // 2462895308800m is 2 x 1.1Gi + the proxy's 96Mi to the millibyte.
    const memory = (m: string): Record<string, unknown> => ({ requests: { memory: m } });
    const stock = pod({
      resources: memory('2462895308800m'),
      containers: [
        { ...APP, resources: memory('1181116006400m') },
        { name: 'worker', image: APP.image, resources: memory('1181116006400m') },
      ],
    });
    expect(sidecarOf(await injected(webhook, stock))).toBeDefined();
    const short = { ...stock, spec: { ...spec(stock), resources: memory('2462895308799m') } };
    const answer = await webhook.review(podReview(short));
    expect(answer.status?.message).toContain(
      "the pod's spec.resources.requests.memory (2462895308799m) must cover what its containers request, 2462895308800m with the proxy's 96Mi",
    );
  });

  it('on reinvocation, counts an init container another webhook put before the proxy without its request', async () => {
    // A 1-CPU pod whose app asks for 100m gets the proxy (125m); a webhook after ours then
    // prepends a 1-CPU init container, which runs alone before the proxy starts: 1 CPU in all.
    const stock = pod({
      resources: { requests: { cpu: '1' } },
      containers: [{ ...APP, resources: { requests: { cpu: '100m' } } }],
    });
    const once = await injected(webhook, stock);
    const migrate = {
      name: 'migrate',
      image: 'registry.example.com/migrate:1',
      resources: { requests: { cpu: '1' } },
    };
    const added = { ...once, spec: { ...spec(once), initContainers: [migrate, sidecarOf(once)] } };
    const answer = await webhook.review(podReview(added));
    expect(answer.status?.message).toBeUndefined();
    expect(answer).toMatchObject({ allowed: true });
    // Behind the proxy, the init container runs beside it: 1025m, which the pod cannot hold.
    const behind = {
      ...added,
      spec: { ...spec(added), initContainers: [sidecarOf(once), migrate] },
    };
    const refused = await webhook.review(podReview(behind));
    expect(refused.status?.message).toContain(
      "the pod's spec.resources.requests.cpu (1) must cover what its containers request, 1025m with the proxy's 25m",
    );
  });

  it("counts an init container that runs before the proxy without the proxy's request", async () => {
    // The mesh's istio-init runs alone, before the mesh's proxy and the injected one start.
    const stock = pod({
      resources: { requests: { cpu: '500m' } },
      initContainers: [
        { name: 'istio-init', image: 'istio/proxyv2', resources: { requests: { cpu: '500m' } } },
        {
          name: 'istio-proxy',
          image: 'istio/proxyv2',
          restartPolicy: 'Always',
          resources: { requests: { cpu: '100m' } },
        },
      ],
      containers: [{ ...APP, resources: { requests: { cpu: '100m' } } }],
    });
    expect(sidecarOf(await injected(webhook, stock))).toBeDefined();
    const tight = { ...stock, spec: { ...spec(stock), resources: { requests: { cpu: '200m' } } } };
    const answer = await webhook.review(podReview(tight));
    // The pod's own containers need 500m already: that is the pod's to fix, not the proxy's.
    expect(answer.allowed).toBe(true);
  });
});

describe("a port below where the pod's unprivileged ports start, which the non-root proxy cannot bind", () => {
  const SYSCTL = 'net.ipv4.ip_unprivileged_port_start';
  const low = {
    ...ASKS,
    'vidispine-auth-proxy/port': '80',
    'vidispine-auth-proxy/ops-port': '443',
  };
  const sysctls = (value: string): Record<string, unknown> => ({
    securityContext: { sysctls: [{ name: SYSCTL, value }] },
  });

  it('is denied below 1024, naming the sysctl that lowers it', async () => {
    const answer = await webhook.review(podReview(pod({ containers: [APP] }, low)));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      `vidispine-auth-proxy/port: port 80 is below 1024, where unprivileged ports start (${SYSCTL}, the kernel's default): the proxy runs as a non-root user without capabilities and cannot bind it, so the pod would never be ready; set a port from 1024, or set ${SYSCTL} to 80 or lower in the pod's securityContext.sysctls`,
    );
    expect(answer.status?.message).toContain(
      'vidispine-auth-proxy/ops-port: port 443 is below 1024',
    );
  });

  it('is denied below a sysctl that leaves it privileged', async () => {
    const answer = await webhook.review(
      podReview(pod({ ...sysctls('100'), containers: [APP] }, low)),
    );
    expect(answer.status?.message).toContain(
      `vidispine-auth-proxy/port: port 80 is below 100, where unprivileged ports start (${SYSCTL} in the pod's securityContext.sysctls)`,
    );
    expect(answer.status?.message).not.toContain('vidispine-auth-proxy/ops-port');
  });

  it.each(['80', '0'])('is injected where the pod sets the sysctl to %s', async (value) => {
    const result = await injected(webhook, pod({ ...sysctls(value), containers: [APP] }, low));
    expect(sidecarOf(result)?.env).toContainEqual({ name: 'PROXY_LISTEN', value: '127.0.0.1:80' });
  });
});

describe('a port the app listens on without declaring it, as its probes show', () => {
  it.each([
    ['an httpGet readinessProbe', { readinessProbe: { httpGet: { path: '/', port: 8080 } } }],
    ['a tcpSocket livenessProbe', { livenessProbe: { tcpSocket: { port: 8080 } } }],
    ['a grpc startupProbe', { startupProbe: { grpc: { port: 8080 } } }],
  ])('is denied for %s', async (_what, probe) => {
    const answer = await webhook.review(podReview(pod({ containers: [{ ...APP, ...probe }] })));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toMatch(
      /vidispine-auth-proxy\/port: port 8080 is probed in container "shop" \((readiness|liveness|startup)Probe\), so the app listens there: set a free port/,
    );
  });

  it('on the ops port too; a probe on a named port or another number is no clash', async () => {
    const app = {
      ...APP,
      ports: [{ name: 'http', containerPort: 3000 }],
      readinessProbe: { httpGet: { path: '/', port: 'http' } },
      livenessProbe: { tcpSocket: { port: 3000 } },
    };
    const sidecar = { name: 'metrics', image: 'exporter:1', restartPolicy: 'Always' };
    const clash = await webhook.review(
      podReview(
        pod({
          initContainers: [{ ...sidecar, livenessProbe: { httpGet: { port: 9090 } } }],
          containers: [app],
        }),
      ),
    );
    expect(clash.status?.message).toContain(
      'vidispine-auth-proxy/ops-port: port 9090 is probed in container "metrics" (livenessProbe)',
    );
    expect(sidecarOf(await injected(webhook, pod({ containers: [app] })))).toBeDefined();
  });
});

describe('as an admission controller', () => {
  it('answers a dryRun review exactly as the real one', async () => {
    const stock = pod({ containers: [APP] });
    const real = await webhook.review(podReview(stock));
    const dry = await webhook.review(podReview(stock, { dryRun: true }));
    expect(dry.patch).toEqual(real.patch);
    expect(dry.allowed).toBe(true);
  });

  it('allows other kinds and operations unchanged', async () => {
    const deployment = podReview(pod({ containers: [APP] }));
    const request = deployment.request as Record<string, unknown>;
    request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    request.object = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop' },
      spec: {},
    };
    const answers = await Promise.all([
      webhook.review(deployment),
      webhook.review(podReview(pod({ containers: [APP] }), { operation: 'UPDATE' })),
    ]);
    for (const answer of answers) {
      expect(answer.allowed).toBe(true);
      expect(answer.patch).toBeUndefined();
      expect(answer.status).toBeUndefined();
    }
    expect(answers[0]?.uid).toBe(request.uid);
  });

  it('allows a pod without the opt-in label unchanged, and counts it: a webhook configuration that lost its objectSelector stops no pod of the cluster', async () => {
    const unlabelled = (labels: Record<string, string> | undefined): Pod => {
      const p = pod({ containers: [APP] });
      return { ...p, metadata: { ...(p.metadata as object), labels } };
    };
    const reviews = await webhook.ops('/metrics');
    const before =
      value(parseExposition(reviews.body), 'vidispine_auth_proxy_admission_reviews_total', {
        result: 'not_labelled',
      }) ?? 0;
    const labelSets: (Record<string, string> | undefined)[] = [
      undefined,
      { app: 'shop' },
      { 'vidispine-auth-proxy/inject': 'false' },
      { 'vidispine-auth-proxy/inject': 'True' },
    ];
    const answers = await Promise.all(
      labelSets.map((labels) => webhook.review(podReview(unlabelled(labels)))),
    );
    for (const answer of answers) {
      expect(answer.allowed).toBe(true);
      expect(answer.patch).toBeUndefined();
      expect(answer.status).toBeUndefined();
    }
    const after = parseExposition((await webhook.ops('/metrics')).body);
    expect(
      value(after, 'vidispine_auth_proxy_admission_reviews_total', { result: 'not_labelled' }),
    ).toBe(before + 4);
  });

  it("leaves a static pod's mirror as it is: the kubelet runs the manifest, and the node may not make a mirror that mounts a Secret", async () => {
    const mirror = pod({ containers: [APP] });
    (mirror.metadata as { annotations: Record<string, string> }).annotations = {
      ...ASKS,
      'kubernetes.io/config.mirror': '6b1d1c5bd2bd4c8e2f0e1f1c1a1b1c1d',
    };
    const answer = await webhook.review(podReview(mirror));
    expect(answer.allowed).toBe(true);
    expect(answer.patch).toBeUndefined();
    expect(answer.status).toBeUndefined();
  });

  it('refuses what is not an AdmissionReview with a 4xx', async () => {
    const garbage = await webhook.post('{"apiVersion": "admission.k8s.io/v1", "kind": ');
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toEqual({ error: 'the body is not JSON' });
    const v1beta1 = await webhook.post(
      JSON.stringify({
        ...podReview(pod({ containers: [APP] })),
        apiVersion: 'admission.k8s.io/v1beta1',
      }),
    );
    expect(v1beta1.status).toBe(400);
    expect(JSON.parse(v1beta1.body)).toEqual({
      error:
        'not an admission.k8s.io/v1 AdmissionReview: apiVersion: expected "admission.k8s.io/v1", got "admission.k8s.io/v1beta1"',
    });
    const review = podReview(pod({ containers: [APP] }));
    const noUid = await webhook.post(
      JSON.stringify({ ...review, request: { ...(review.request as object), uid: 42 } }),
    );
    expect(noUid.status).toBe(400);
    expect(JSON.parse(noUid.body)).toEqual({
      error:
        'not an admission.k8s.io/v1 AdmissionReview: request.uid: expected a string, got a number',
    });
  });

  it('denies a pod whose fields it reads are not what Kubernetes sends, naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ containers: { name: 'shop' } }, 'spec.containers: expected an array, got an object'],
      [
        { containers: [APP, { ...APP, name: 'b', env: [{ name: 'A', value: 1 }] }] },
        'spec.containers.1.env.0.value: expected a string, got a number',
      ],
      [
        { containers: [{ ...APP, ports: [{ containerPort: '8080' }] }] },
        'spec.containers.0.ports.0.containerPort: expected a number, got a string',
      ],
      [{ containers: [APP], volumes: [{}] }, 'spec.volumes.0.name: expected a string, got nothing'],
      [
        {
          containers: [APP],
          securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: 0 }] },
        },
        'spec.securityContext.sysctls.0.value: expected a string, got a number',
      ],
      [
        { containers: [APP], affinity: requiredOs({ operator: 'In', values: 'windows' as never }) },
        'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.values: expected an array, got a string',
      ],
      [
        { containers: [{ ...APP, resources: { requests: { cpu: 0.1 } } }] },
        'spec.containers.0.resources.requests.cpu: expected a string, got a number',
      ],
    ];
    for (const [podSpec, problem] of cases) {
      const answer = await webhook.review(podReview(pod(podSpec)));
      expect(answer.allowed).toBe(false);
      expect(answer.status?.message).toBe(`request.object is not a Pod: ${problem}`);
    }
    const labels = { metadata: { labels: { app: null } }, spec: { containers: [APP] } };
    expect((await webhook.review(podReview(labels))).status?.message).toBe(
      'request.object is not a Pod: metadata.labels.app: expected a string, got null',
    );
    // A key is the pod's text too: shown as text, cut in the middle.
    const key = `\u202e${'k'.repeat(100_000)}`;
    const keyed = { metadata: { labels: { [key]: 1 } }, spec: { containers: [APP] } };
    const message = (await webhook.review(podReview(keyed))).status?.message ?? '';
    expect(message).toMatch(
      /^request\.object is not a Pod: metadata\.labels\.\?k+…k+: expected a string, got a number$/,
    );
    expect(message.length).toBeLessThan(300);
    expect((await webhook.post('{}', { path: '/validate' })).status).toBe(404);
    const get = await webhook.post('', { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await webhook.post('{}', { type: 'text/plain' })).status).toBe(415);
  });

  it('refuses a 10 MiB body with 413 and goes on serving', async () => {
    const big = JSON.stringify({
      ...podReview(pod({ containers: [APP] })),
      padding: 'x'.repeat(10 * 1024 * 1024),
    });
    const answer = await webhook.post(big);
    expect(answer.status).toBe(413);
    expect(answer.body).toContain('request body over 4194304 bytes');
    const next = await webhook.review(podReview(pod({ containers: [APP] })));
    expect(next.allowed).toBe(true);
  });

  it('serves its probes and metrics on the ops listener', async () => {
    expect(await webhook.ops('/livez')).toMatchObject({ status: 200 });
    const ready = await webhook.ops('/readyz');
    expect(ready.status).toBe(200);
    const metrics = (await webhook.ops('/metrics')).body;
    expect(metrics).toMatch(
      /^vidispine_auth_proxy_admission_reviews_total\{result="injected"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^vidispine_auth_proxy_admission_reviews_total\{result="denied"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^vidispine_auth_proxy_admission_requests_refused_total\{reason="too_large"\} [1-9]/m,
    );
    expect(metrics).toMatch(/^vidispine_auth_proxy_admission_duration_seconds_count [1-9]/m);
    expect(metrics).toMatch(
      /^vidispine_auth_proxy_webhook_certificate_expiry_timestamp_seconds \d{10}/m,
    );
  });
});
