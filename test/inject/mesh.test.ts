/**
 * The injected proxy beside a service mesh's sidecar: the real `inject` command over HTTPS,
 * pods carrying Istio's and Linkerd's containers as their injectors write them, each patch
 * applied with fast-json-patch and the pod validated against the Kubernetes schemas. Where
 * the mesh captures the pod's traffic before its containers start (Istio CNI, Linkerd CNI),
 * a proxy started before the mesh's native sidecar has its first mint redirected to a mesh
 * proxy that is not running yet, and the pod never starts.
 */
import { schemaProblems, type K8sObject, at, records } from '../deploy/render';
import { workloadProblems } from '../deploy/checks';
import {
  patched,
  podReview,
  type ReviewAnswer,
  type RunningWebhook,
  startWebhook,
} from '../support/inject';

type Pod = Record<string, unknown>;
type Container = Record<string, unknown>;

const ISTIO_IMAGE = 'docker.io/istio/proxyv2:1.24.2';
const LINKERD_PROXY_IMAGE = 'cr.l5d.io/linkerd/proxy:edge-25.4.1';

/**
 * istio-iptables' arguments as Istio's injection template writes them: `-b` the inbound ports
 * captured (`*`: all), `-d` those excluded (its own, the status port 15020, and the pod's
 * traffic.sidecar.istio.io/excludeInboundPorts or the mesh's default).
 */
const iptables = (exclude = '15090,15021,15020', include = '*'): string[] => [
  'istio-iptables',
  ...['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', ''],
  ...['-b', include, '-d', exclude, '--log_output_level=default:info'],
];

/** Istio's containers as its injector writes them with native sidecars (pkg/kube/inject). */
const ISTIO = {
  init: {
    name: 'istio-init',
    image: ISTIO_IMAGE,
    args: iptables(),
    securityContext: {
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      runAsUser: 0,
      runAsNonRoot: false,
    },
  },
  /** In place of istio-init with the Istio CNI: the capture is in place before any container. */
  validation: {
    name: 'istio-validation',
    image: ISTIO_IMAGE,
    args: [...iptables(), '--run-validation', '--skip-rule-apply'],
    securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true },
  },
  proxy: {
    name: 'istio-proxy',
    image: ISTIO_IMAGE,
    restartPolicy: 'Always',
    args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local'],
    ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }],
    startupProbe: {
      httpGet: { path: '/healthz/ready', port: 15021 },
      periodSeconds: 1,
      failureThreshold: 600,
    },
    securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true },
  },
};

/** Linkerd's as its proxy-injector writes them with proxy-enable-native-sidecar (charts/patch). */
const LINKERD = {
  init: {
    name: 'linkerd-init',
    image: 'cr.l5d.io/linkerd/proxy-init:v2.4.2',
    args: ['--incoming-proxy-port', '4143', '--outgoing-proxy-port', '4140', '--proxy-uid', '2102'],
    securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] }, runAsUser: 65534 },
  },
  /** In place of linkerd-init with the Linkerd CNI. */
  validator: {
    name: 'linkerd-network-validator',
    image: LINKERD_PROXY_IMAGE,
    command: ['/usr/lib/linkerd/linkerd2-network-validator'],
    args: ['--connect-addr', '0.0.0.0:4140', '--listen-addr', '0.0.0.0:4140'],
    securityContext: { runAsUser: 65534, runAsNonRoot: true },
  },
  proxy: {
    name: 'linkerd-proxy',
    image: LINKERD_PROXY_IMAGE,
    restartPolicy: 'Always',
    ports: [
      { name: 'linkerd-proxy', containerPort: 4143 },
      { name: 'linkerd-admin', containerPort: 4191 },
    ],
    startupProbe: { httpGet: { path: '/ready', port: 4191 }, failureThreshold: 120 },
    securityContext: { runAsUser: 2102, runAsNonRoot: true },
  },
};

/** Each mesh's containers at the head of initContainers, in the order its injector leaves them. */
const MESHES: readonly [string, Container[]][] = [
  ['Istio', [ISTIO.init, ISTIO.proxy]],
  ['Istio with its CNI', [ISTIO.validation, ISTIO.proxy]],
  ['Linkerd', [LINKERD.init, LINKERD.proxy]],
  ['Linkerd with its CNI', [LINKERD.validator, LINKERD.proxy]],
];

const APP = { name: 'shop', image: 'registry.example.com/shop:2' };
const MIGRATE = { name: 'migrate', image: 'registry.example.com/shop:2', args: ['migrate'] };
const ASKS = {
  'vidispine-auth-proxy/user': 'shop',
  'vidispine-auth-proxy/secret': 'shop-vidispine',
  'vidispine-auth-proxy/env': 'VIDISPINE_API',
};
const API = { name: 'VIDISPINE_API', value: 'http://127.0.0.1:8080/API' };

function pod(
  initContainers: readonly Container[],
  containers: readonly Container[] = [APP],
  annotations: Record<string, string> = ASKS,
): Pod {
  return {
    metadata: {
      generateName: 'shop-7d9c-',
      labels: { app: 'shop', 'vidispine-auth-proxy/inject': 'true' },
      annotations,
    },
    spec: {
      ...(initContainers.length > 0 ? { initContainers: [...initContainers] } : {}),
      containers: [...containers],
    },
  };
}

const spec = (p: Pod): Record<string, unknown> => at(p, 'spec') as Record<string, unknown>;
const initNames = (p: Pod): unknown[] => records(spec(p).initContainers).map((c) => c.name);
const initContainer = (p: Pod, name: string): Container | undefined =>
  records(spec(p).initContainers).find((c) => c.name === name);

/** The pod as Kubernetes and the deployment checks see it: no problem. */
function valid(p: Pod): Pod {
  const object = { ...p, metadata: { ...(p.metadata as object), name: 'shop' } } as K8sObject;
  expect([...schemaProblems([object]), ...workloadProblems([object])]).toEqual([]);
  return p;
}

let webhook: RunningWebhook;
beforeAll(async () => {
  webhook = await startWebhook();
});
afterAll(async () => {
  await webhook.stop();
});

async function injected(stock: Pod): Promise<Pod> {
  const answer = await webhook.review(podReview(stock));
  expect(answer.allowed).toBe(true);
  return valid(patched(stock, answer));
}

/** A reinvocation's answer to `p` (the API server sends the pod as other webhooks left it). */
const reinvoked = (p: Pod): Promise<ReviewAnswer> => webhook.review(podReview(p));

/**
 * `stock` injected, then `added` appended to its init containers by another webhook, and the
 * reinvocation's answer to that.
 */
async function addedAfterOurs(
  stock: Pod,
  added: readonly Container[],
): Promise<{ meshed: Pod; answer: ReviewAnswer }> {
  const meshed = structuredClone(await injected(stock));
  (spec(meshed).initContainers as Container[]).push(...added);
  const answer = await reinvoked(meshed);
  expect(answer.allowed).toBe(true);
  return { meshed, answer };
}

/** The pod the answer makes, which a further reinvocation leaves as it is. */
async function settled(meshed: Pod, answer: ReviewAnswer): Promise<Pod> {
  const result = valid(patched(meshed, answer));
  expect((await reinvoked(result)).patch).toBeUndefined();
  return result;
}

describe("a mesh's native sidecar injected before ours (its webhook's configuration sorts first)", () => {
  it.each(MESHES)(
    "%s: the proxy starts right after the mesh's proxy, still before the app's init containers",
    async (_mesh, meshContainers) => {
      const result = await injected(pod([...meshContainers, MIGRATE]));
      expect(initNames(result)).toEqual([
        ...meshContainers.map((c) => c.name),
        'vidispine-auth-proxy',
        'migrate',
      ]);
      // The mesh's containers are as the mesh wrote them; the app's init container gets the URL.
      expect(records(spec(result).initContainers).slice(0, meshContainers.length)).toEqual(
        meshContainers,
      );
      expect(initContainer(result, 'migrate')?.env).toEqual([API]);
      expect(spec(result).containers).toEqual([{ ...APP, env: [API] }]);
      // Nothing more to do on a reinvocation.
      expect((await reinvoked(result)).patch).toBeUndefined();
    },
  );

  it('without init containers of the app, the proxy is the last init container', async () => {
    const result = await injected(pod([ISTIO.validation, ISTIO.proxy]));
    expect(initNames(result)).toEqual(['istio-validation', 'istio-proxy', 'vidispine-auth-proxy']);
  });

  it("a mesh proxy that is a regular container leaves the proxy first: the mesh's istio-init runs after it, as Istio places it", async () => {
    // Istio without native sidecars: istio-init last so that earlier init containers reach the
    // network; the proxy's first mint goes out before the capture, the app's through istio-proxy.
    const istio = { ...ISTIO.proxy, restartPolicy: undefined };
    const result = await injected(pod([MIGRATE, ISTIO.init], [APP, istio]));
    expect(initNames(result)).toEqual(['vidispine-auth-proxy', 'migrate', 'istio-init']);
    // The mesh's containers are not the app's: no env variable for them.
    expect(records(spec(result).containers)[1]).toEqual(istio);
    expect(initContainer(result, 'istio-init')).toEqual(ISTIO.init);
    // Linkerd without native sidecars: linkerd-init appended, the proxy a regular container.
    const linkerd = { ...LINKERD.proxy, restartPolicy: undefined };
    const withLinkerd = await injected(pod([LINKERD.init], [linkerd, APP]));
    expect(initNames(withLinkerd)).toEqual(['vidispine-auth-proxy', 'linkerd-init']);
  });
});

describe("a mesh's native sidecar injected after ours (reinvocationPolicy: IfNeeded)", () => {
  it("Linkerd's injector puts its containers first: the pod is left as it is", async () => {
    const ours = await injected(pod([MIGRATE]));
    // Linkerd's patch: linkerd-init at /spec/initContainers/0, linkerd-proxy at /1.
    const meshed = structuredClone(ours);
    (spec(meshed).initContainers as Container[]).unshift(LINKERD.init, LINKERD.proxy);
    const answer = await reinvoked(meshed);
    expect(answer.allowed).toBe(true);
    expect(answer.patch).toBeUndefined();
  });

  it.each(MESHES)(
    '%s added after the proxy: it is moved right after the mesh proxy, once',
    async (_mesh, meshContainers) => {
      const { meshed, answer } = await addedAfterOurs(pod([], [APP]), meshContainers);
      expect(answer.patch).toEqual([
        {
          op: 'move',
          from: '/spec/initContainers/0',
          path: `/spec/initContainers/${meshContainers.length}`,
        },
      ]);
      // Idempotent: the moved pod is left as it is, and so is a dryRun of it.
      const moved = await settled(meshed, answer);
      expect(initNames(moved)).toEqual([
        ...meshContainers.map((c) => c.name),
        'vidispine-auth-proxy',
      ]);
      // Moved as it was, not written anew.
      expect(initContainer(moved, 'vidispine-auth-proxy')).toEqual(
        initContainer(meshed, 'vidispine-auth-proxy'),
      );
      expect((await webhook.review(podReview(moved, { dryRun: true }))).patch).toBeUndefined();
      expect((await webhook.ops('/metrics')).body).toMatch(
        /^vidispine_auth_proxy_admission_reviews_total\{result="moved"\} [1-9]/m,
      );
    },
  );

  it('the move comes after the env operations on the init containers, whose paths it shifts', async () => {
    // A mesh that appended its containers, and another webhook's init container after them.
    const added = { name: 'fetch-config', image: 'registry.example.com/fetch:1' };
    const { meshed, answer } = await addedAfterOurs(pod([MIGRATE]), [
      ISTIO.validation,
      ISTIO.proxy,
      added,
    ]);
    // `migrate` goes ahead of the proxy: the variable the first pass gave it goes too.
    expect(answer.patch).toEqual([
      { op: 'add', path: '/spec/initContainers/4/env', value: [API] },
      { op: 'remove', path: '/spec/initContainers/1/env' },
      { op: 'move', from: '/spec/initContainers/0', path: '/spec/initContainers/3' },
    ]);
    const moved = await settled(meshed, answer);
    expect(initNames(moved)).toEqual([
      'migrate',
      'istio-validation',
      'istio-proxy',
      'vidispine-auth-proxy',
      'fetch-config',
    ]);
    expect(initContainer(moved, 'fetch-config')?.env).toEqual([API]);
    expect(initContainer(moved, 'migrate')).toEqual(MIGRATE);
  });

  it("a proxy the pod's own template placed is never moved", async () => {
    const own = { name: 'vidispine-auth-proxy', image: 'x', restartPolicy: 'Always' };
    const answer = await reinvoked(pod([own, ISTIO.validation, ISTIO.proxy]));
    expect(answer.patch).toBeUndefined();
  });
});

describe('vidispine-auth-proxy/start-after: the init containers the proxy starts after', () => {
  /** Kuma's containers with its native sidecar: another mesh, named by the pod. */
  const KUMA_INIT = { name: 'kuma-init', image: 'docker.io/kumahq/kuma-init:2.9.0' };
  const KUMA = {
    name: 'kuma-sidecar',
    image: 'docker.io/kumahq/kuma-dp:2.9.0',
    restartPolicy: 'Always',
  };
  const AFTER_KUMA = { ...ASKS, 'vidispine-auth-proxy/start-after': 'kuma-init, kuma-sidecar' };

  it('puts the proxy right after the last of them, which get no env variable (they run before it)', async () => {
    const result = await injected(pod([KUMA_INIT, KUMA, MIGRATE], [APP], AFTER_KUMA));
    expect(initNames(result)).toEqual([
      'kuma-init',
      'kuma-sidecar',
      'vidispine-auth-proxy',
      'migrate',
    ]);
    expect(records(spec(result).initContainers).slice(0, 2)).toEqual([KUMA_INIT, KUMA]);
    expect(initContainer(result, 'migrate')?.env).toEqual([API]);
    expect((await reinvoked(result)).patch).toBeUndefined();
  });

  it('gives no env variable to any init container that runs before the proxy, named or not', async () => {
    const VAULT = { name: 'vault-agent-init', image: 'hashicorp/vault:1.18' };
    const result = await injected(pod([VAULT, KUMA_INIT, KUMA, MIGRATE], [APP], AFTER_KUMA));
    expect(initNames(result)).toEqual([
      'vault-agent-init',
      'kuma-init',
      'kuma-sidecar',
      'vidispine-auth-proxy',
      'migrate',
    ]);
    expect(initContainer(result, 'vault-agent-init')).toEqual(VAULT);
    expect(initContainer(result, 'migrate')?.env).toEqual([API]);
    expect((await reinvoked(result)).patch).toBeUndefined();
  });

  it('on reinvocation, gives the env variable only to init containers added after where the proxy stands', async () => {
    const SETUP = { name: 'setup', image: 'registry.example.com/setup:1' };
    const { meshed, answer } = await addedAfterOurs(pod([MIGRATE], [APP], AFTER_KUMA), [
      SETUP,
      KUMA_INIT,
      KUMA,
      { ...MIGRATE, name: 'warm-cache' },
    ]);
    // `setup` ends up before the proxy, once moved after Kuma's sidecar; `warm-cache` after it.
    const moved = await settled(meshed, answer);
    expect(initNames(moved)).toEqual([
      'migrate',
      'setup',
      'kuma-init',
      'kuma-sidecar',
      'vidispine-auth-proxy',
      'warm-cache',
    ]);
    expect(initContainer(moved, 'setup')).toEqual(SETUP);
    expect(initContainer(moved, 'warm-cache')?.env).toEqual([API]);

    // One another webhook put first, ahead of the proxy, gets none either.
    const first = structuredClone(await injected(pod([MIGRATE], [APP])));
    (spec(first).initContainers as Container[]).unshift(SETUP);
    expect((await reinvoked(first)).patch).toBeUndefined();
  });

  it('on reinvocation, takes the env variable it set back from the init containers the move puts before the proxy, and only that one', async () => {
    const LOG = { name: 'LOG_LEVEL', value: 'debug' };
    // The proxy's URL written into the template (twice, as Kubernetes allows): the same as
    // the webhook's own, left as it is by the first pass.
    const migrate = { ...MIGRATE, env: [API, LOG, API] };
    const SEED = { name: 'seed', image: 'registry.example.com/shop:2', args: ['seed'] };
    // Another webhook's, with a variable of its own of that name: not the webhook's to take.
    const VAULT = {
      name: 'vault-agent-init',
      image: 'hashicorp/vault:1.18',
      env: [{ name: 'VIDISPINE_API', value: 'http://vault.example.com/API' }, LOG],
    };
    const { meshed, answer } = await addedAfterOurs(pod([migrate, SEED], [APP], AFTER_KUMA), [
      VAULT,
      KUMA_INIT,
      KUMA,
    ]);
    expect(initContainer(meshed, 'migrate')?.env).toEqual([API, LOG, API]);
    expect(initContainer(meshed, 'seed')?.env).toEqual([API]);
    // The last of an env first, so that the one before keeps its index.
    expect(answer.patch).toEqual([
      { op: 'remove', path: '/spec/initContainers/1/env/2' },
      { op: 'remove', path: '/spec/initContainers/1/env/0' },
      { op: 'remove', path: '/spec/initContainers/2/env' },
      { op: 'move', from: '/spec/initContainers/0', path: '/spec/initContainers/5' },
    ]);

    const moved = await settled(meshed, answer);
    expect(initNames(moved)).toEqual([
      'migrate',
      'seed',
      'vault-agent-init',
      'kuma-init',
      'kuma-sidecar',
      'vidispine-auth-proxy',
    ]);
    // They now run before the proxy starts, where every call to it is refused.
    expect(initContainer(moved, 'migrate')?.env).toEqual([LOG]);
    expect(initContainer(moved, 'seed')).toEqual(SEED);
    expect(initContainer(moved, 'vault-agent-init')).toEqual(VAULT);
    expect(spec(moved).containers).toEqual([{ ...APP, env: [API] }]);
  });

  it("never before a known mesh's proxy; a name not in the pod (yet) changes nothing", async () => {
    const asks = { ...ASKS, 'vidispine-auth-proxy/start-after': 'istio-init,vault-agent-init' };
    const result = await injected(pod([ISTIO.init, ISTIO.proxy, MIGRATE], [APP], asks));
    expect(initNames(result)).toEqual([
      'istio-init',
      'istio-proxy',
      'vidispine-auth-proxy',
      'migrate',
    ]);
  });

  it('moves the proxy on reinvocation after one that another webhook added after it', async () => {
    const { meshed, answer } = await addedAfterOurs(pod([MIGRATE], [APP], AFTER_KUMA), [
      KUMA_INIT,
      KUMA,
    ]);
    // The env variable is not added to them, and taken from `migrate`: they run before the proxy.
    expect(answer.patch).toEqual([
      { op: 'remove', path: '/spec/initContainers/1/env' },
      { op: 'move', from: '/spec/initContainers/0', path: '/spec/initContainers/3' },
    ]);
    const moved = await settled(meshed, answer);
    expect(initNames(moved)).toEqual([
      'migrate',
      'kuma-init',
      'kuma-sidecar',
      'vidispine-auth-proxy',
    ]);
  });

  it.each([
    ['Kuma-Sidecar', '"Kuma-Sidecar" is not a container name'],
    ['kuma-init,,kuma-sidecar', 'an empty name'],
    ['vidispine-auth-proxy', 'is the proxy itself'],
    ['', 'empty'],
  ])('%j is denied, naming the annotation', async (value, problem) => {
    const stock = pod([], [APP], { ...ASKS, 'vidispine-auth-proxy/start-after': value });
    const answer = await webhook.review(podReview(stock));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain('vidispine-auth-proxy/start-after: ');
    expect(answer.status?.message).toContain(problem);
  });
});

describe("Istio's capture of the proxy's ops port, which the kubelet probes in plain HTTP", () => {
  const EXCLUDE = 'traffic.sidecar.istio.io/excludeInboundPorts';
  const INCLUDE = 'traffic.sidecar.istio.io/includeInboundPorts';
  const warning = (port: number): string =>
    `vidispine-auth-proxy probes fail under Istio STRICT mTLS: add ${port} to ${EXCLUDE}`;
  /** What Istio's injector writes into a pod with its CNI, which reads them (the mesh's defaults). */
  const CNI = {
    'sidecar.istio.io/status': '{"initContainers":["istio-validation","istio-proxy"]}',
    'sidecar.istio.io/interceptionMode': 'REDIRECT',
    [INCLUDE]: '*',
    [EXCLUDE]: '15020',
  };
  const withInit = (args: string[]): Container[] => [{ ...ISTIO.init, args }, ISTIO.proxy];

  it.each([
    ['Istio', [ISTIO.init, ISTIO.proxy], ASKS, withInit(iptables('15090,15021,15020,9090')), ASKS],
    [
      'Istio with its CNI',
      [ISTIO.validation, ISTIO.proxy],
      { ...ASKS, ...CNI },
      [ISTIO.validation, ISTIO.proxy],
      { ...ASKS, ...CNI, [EXCLUDE]: '15020,9090' },
    ],
  ])(
    '%s: the injection warns, naming the port and the annotation that excludes it; the patch is the one without the warning',
    async (_mesh, meshContainers, annotations, excluded, excludedAnnotations) => {
      const stock = pod([...meshContainers, MIGRATE], [APP], annotations);
      const answer = await webhook.review(podReview(stock));
      expect(answer.allowed).toBe(true);
      expect(answer.warnings).toEqual([warning(9090)]);
      // Within what Kubernetes asks of a warning: one line, at most 120 characters.
      expect(answer.warnings?.[0]).toMatch(/^[\x20-\x7e]{1,120}$/);

      // The pod that excludes the port gets the same patch, and no warning.
      const quiet = await webhook.review(
        podReview(pod([...excluded, MIGRATE], [APP], excludedAnnotations)),
      );
      expect(quiet.allowed).toBe(true);
      expect(quiet.warnings).toBeUndefined();
      expect(quiet.raw.response).not.toHaveProperty('warnings');
      expect(answer.patch).toEqual(quiet.patch);

      // A reinvocation changes nothing, and warns the same (the API server shows it once).
      const result = valid(patched(stock, answer));
      const again = await reinvoked(result);
      expect(again.patch).toBeUndefined();
      expect(again.warnings).toEqual([warning(9090)]);

      // The pods of a workload are created by its controller, which gets the warning: the
      // webhook's log says it too, as it does a denial.
      const line = await webhook.child.waitFor(
        (l) => l.event === 'admission' && l.uid === answer.uid,
      );
      expect(line).toMatchObject({
        level: 'info',
        result: 'injected',
        warnings: [warning(9090)],
      });
    },
  );

  it.each<[string, Container[], Record<string, string>, string[]]>([
    // The annotation on the pod template, or the mesh's default, as Istio's template writes it.
    ['-d lists the port', withInit(iptables('15090,15021,15020,9090')), {}, []],
    [
      'excludeInboundPorts lists it (the CNI)',
      [ISTIO.validation, ISTIO.proxy],
      { ...CNI, [EXCLUDE]: '15020, 9090' },
      [],
    ],
    [
      'the port is another',
      withInit(iptables('15090,15021,15020,9090')),
      { 'vidispine-auth-proxy/ops-port': '9191' },
      [warning(9191)],
    ],
    [
      'a port of a range-like or other entry is no match',
      [ISTIO.validation, ISTIO.proxy],
      { ...CNI, [EXCLUDE]: '15020,9000:9100,90900' },
      [warning(9090)],
    ],
    // Only the ports of a list are captured; exclusions do not apply then.
    ['-b lists other ports only', withInit(iptables('15090,15021,15020', '8080')), {}, []],
    [
      'includeInboundPorts is empty (the CNI)',
      [ISTIO.validation, ISTIO.proxy],
      { ...CNI, [INCLUDE]: '' },
      [],
    ],
    [
      '-b lists the port',
      withInit(iptables('15090,15021,15020,9090', '8080,9090')),
      {},
      [`vidispine-auth-proxy probes fail under Istio STRICT mTLS: remove 9090 from ${INCLUDE}`],
    ],
    // No capture at all: no istio-init, and the CNI leaves the pod alone.
    ['interceptionMode NONE', [ISTIO.proxy], { 'sidecar.istio.io/interceptionMode': 'NONE' }, []],
  ])('%s', async (_case, meshContainers, annotations, warnings) => {
    const answer = await webhook.review(
      podReview(pod(meshContainers, [APP], { ...ASKS, ...annotations })),
    );
    expect(answer.allowed).toBe(true);
    expect(answer.warnings ?? []).toEqual(warnings);
  });

  it("warns beside Istio's proxy as a regular container too, whose capture is the same", async () => {
    const istio = { ...ISTIO.proxy, restartPolicy: undefined };
    const answer = await webhook.review(podReview(pod([MIGRATE, ISTIO.init], [APP, istio])));
    expect(answer.allowed).toBe(true);
    expect(answer.warnings).toEqual([warning(9090)]);
  });

  it.each(MESHES.filter(([mesh]) => mesh.startsWith('Linkerd')))(
    '%s: no warning (its proxy takes plain HTTP, and authorizes the probes of every container under any policy)',
    async (_mesh, meshContainers) => {
      const answer = await webhook.review(podReview(pod([...meshContainers, MIGRATE])));
      expect(answer.allowed).toBe(true);
      expect(answer.warnings).toBeUndefined();
    },
  );

  it('no warning without a mesh, nor with a denial', async () => {
    expect((await webhook.review(podReview(pod([MIGRATE])))).warnings).toBeUndefined();
    const denied = await webhook.review(
      podReview(pod([ISTIO.init, ISTIO.proxy], [APP], { 'vidispine-auth-proxy/user': 'shop' })),
    );
    expect(denied.allowed).toBe(false);
    expect(denied.warnings).toBeUndefined();
  });

  it("Istio's proxy added after ours: no warning once Istio probes the proxy itself, one where it did not", async () => {
    const ours = await injected(pod([], [APP]));
    const sidecar = initContainer(ours, 'vidispine-auth-proxy') as Container;
    // Istio points the probes of the containers present when it injects at its agent.
    const rewritten = {
      ...sidecar,
      startupProbe: {
        ...(sidecar.startupProbe as object),
        httpGet: { path: '/app-health/vidispine-auth-proxy/startupz', port: 15020 },
      },
    };
    const meshed = (proxy: Container): Pod => {
      const p = structuredClone(ours);
      spec(p).initContainers = [ISTIO.init, ISTIO.proxy, proxy];
      return p;
    };
    const probed = await reinvoked(meshed(rewritten));
    expect(probed.allowed).toBe(true);
    expect(probed.warnings).toBeUndefined();
    const left = await reinvoked(meshed(sidecar));
    expect(left.allowed).toBe(true);
    expect(left.warnings).toEqual([warning(9090)]);
  });
});
