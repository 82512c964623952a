/**
 * What demanding operators need of the injected proxy: an extra CA for an https Vidispine (a
 * private CA) by reference — the webhook's default or the pod's own ConfigMap or Secret,
 * mounted read-only into the proxy alone and named by VIDISPINE_CA_FILE, never read by the
 * webhook —, OpenShift's restricted-v2 SCC, which refuses a fixed user and assigns one of
 * the namespace's range with group 0, IPv6-only clusters, and the native sidecar's place in
 * the pod's termination (after the app's containers, so no shutdown delay). Each patch is applied with
 * fast-json-patch and the pod validated against the Kubernetes schemas, the deployment
 * checks and the proxy's own loader; the proxy runs from the environment the webhook gave
 * it, against the simulator.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appConfigProblems, appConfigs } from '../deploy/app-config';
import { proxyContainers, workloadProblems } from '../deploy/checks';
import { type K8sObject, at, records, schemaProblems } from '../deploy/render';
import { runContainer, stopped } from '../deploy/run-container';
import { createTestCa } from '../support/certificates';
import type { ChildProxy } from '../support/child-proxy';
import { startHttpsFront } from '../support/https-front';
import { patched, podReview, type RunningWebhook, startWebhook } from '../support/inject';
import { closedPort } from '../support/net';
import { createIpv6OnlyPod, type Ipv6OnlyPod, netnsUnavailable } from '../support/netns';
import { startSimulator } from '../support/simulator';

const unavailable = netnsUnavailable();
const describeWithNetns = unavailable === undefined ? describe : describe.skip;
if (unavailable !== undefined) console.warn(`IPv6-only pod tests skipped: ${unavailable}`);

type Pod = Record<string, unknown>;

const APP = { name: 'shop', image: 'registry.example.com/shop:2' };
/** A user of an OpenShift namespace's range, as restricted-v2 assigns it, with group 0. */
const ASSIGNED = { uid: 1000770000, gid: 0 };

function pod(annotations: Record<string, string>, spec: Record<string, unknown> = {}): Pod {
  return {
    metadata: {
      name: 'shop-7d9c-x',
      labels: { 'vidispine-auth-proxy/inject': 'true' },
      annotations: {
        'vidispine-auth-proxy/user': 'alice',
        'vidispine-auth-proxy/secret': 'shop-vidispine',
        ...annotations,
      },
    },
    spec: { containers: [APP], ...spec },
  };
}

const sidecarOf = (p: Pod): Record<string, unknown> | undefined =>
  records(at(p, 'spec', 'initContainers')).find((c) => c.name === 'vidispine-auth-proxy');

async function injected(w: RunningWebhook, stock: Pod): Promise<Pod> {
  const result = patched(stock, await w.review(podReview(stock)));
  const objects = [result as K8sObject];
  expect([
    ...schemaProblems(objects),
    ...workloadProblems(objects),
    ...appConfigProblems(objects),
  ]).toEqual([]);
  return result;
}

/** A pod injected with its proxy's listeners on ports free here, to run it on this machine. */
async function onFreePorts(
  w: RunningWebhook,
): Promise<{ result: Pod; port: number; opsPort: number }> {
  const [port, opsPort] = [await closedPort(), await closedPort()];
  const result = await injected(
    w,
    pod({
      'vidispine-auth-proxy/port': String(port),
      'vidispine-auth-proxy/ops-port': String(opsPort),
    }),
  );
  return { result, port, opsPort };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vap-platforms-'));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the injected container's proxy as `as`, from its environment as the webhook wrote it:
 * the password in the credentials' mount, `caPem` under the CA's key in the CA's.
 */
async function runInjected(
  result: Pod,
  vidispine: string,
  options: { as?: { uid?: number; gid?: number; netns?: string }; caPem?: string } = {},
): Promise<ChildProxy> {
  const [proxy] = proxyContainers([{ ...(result as K8sObject), metadata: { name: 'shop' } }]);
  if (proxy === undefined) throw new Error('no proxy container injected');
  return runContainer(proxy, dir, {
    files: { VIDISPINE_PASSWORD_FILE: 'alice-password\n', VIDISPINE_CA_FILE: options.caPem },
    env: { VIDISPINE_URL: vidispine },
    as: options.as,
  });
}

describe("OpenShift's restricted-v2: the platform assigns the user", () => {
  let webhook: RunningWebhook;
  beforeAll(async () => {
    webhook = await startWebhook({ SIDECAR_UID: '' });
  });
  afterAll(() => webhook.stop());

  it('SIDECAR_UID empty leaves runAsUser and runAsGroup out, and keeps the rest of the hardening', async () => {
    const result = await injected(
      webhook,
      pod(
        {},
        // What restricted-v2 sets on the pod: the namespace's uid and fsGroup.
        { securityContext: { runAsUser: 1000770000, fsGroup: 1000770000 } },
      ),
    );
    expect(sidecarOf(result)?.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it("denies a pod that runs as root, whose user the proxy would take, saying what to set; an app container's own root is no matter", async () => {
    const root = pod({}, { securityContext: { runAsUser: 0 } });
    const answer = await webhook.review(podReview(root));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(
      "vidispine-auth-proxy/inject: the pod's securityContext.runAsUser is 0, and the proxy takes the pod's user where the platform assigns it (the webhook's sidecar.uid is empty): it must not run as root; set runAsUser: 0 on the containers that need it rather than on the pod, or have the webhook set the proxy's uid (sidecar.uid)",
    );
    const appAsRoot = pod(
      {},
      {
        securityContext: { runAsUser: 1000770000 },
        containers: [{ ...APP, securityContext: { runAsUser: 0 } }],
      },
    );
    expect(sidecarOf(await injected(webhook, appAsRoot))).toBeDefined();
  });

  it('the proxy serves under an arbitrary uid with group 0: it writes nothing that needs an owner', async () => {
    const simulator = await startSimulator();
    try {
      const { result, port, opsPort } = await onFreePorts(webhook);
      const child = await runInjected(result, simulator.sim.url, { as: ASSIGNED });
      try {
        const whoami = await fetch(`http://127.0.0.1:${port}/API/whoami`);
        expect(await whoami.text()).toBe('alice');
        expect((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status).toBe(200);
      } finally {
        await stopped(child);
      }
    } finally {
      await simulator.sim.close();
    }
  });

  it('SIDECAR_UID takes another fixed user', async () => {
    const other = await startWebhook({ SIDECAR_UID: '1001' });
    try {
      const result = await injected(other, pod({}));
      expect(sidecarOf(result)?.securityContext).toMatchObject({
        runAsUser: 1001,
        runAsGroup: 1001,
        runAsNonRoot: true,
      });
    } finally {
      await other.stop();
    }
  });
});

/** An https Vidispine, whose certificate a private CA may have signed. */
const HTTPS = { 'vidispine-auth-proxy/vidispine-url': 'https://vidispine.media.svc:8443' };
const caPod = (annotations: Record<string, string>, spec?: Record<string, unknown>): Pod =>
  pod({ ...HTTPS, ...annotations }, spec);

/** What the proxy is given of a CA: its file, the mount and the volume behind it. */
function caOf(p: Pod): Record<string, unknown> {
  const sidecar = sidecarOf(p);
  const file = records(sidecar?.env).find((e) => e.name === 'VIDISPINE_CA_FILE')?.value;
  const mounts = records(sidecar?.volumeMounts).slice(1);
  const volumes = records(at(p, 'spec', 'volumes')).filter((v) =>
    mounts.some((m) => m.name === v.name),
  );
  return { file, mounts, volumes };
}

describe('a CA for Vidispine', () => {
  let plain: RunningWebhook;
  let withDefault: RunningWebhook;
  beforeAll(async () => {
    [plain, withDefault] = await Promise.all([
      startWebhook(),
      startWebhook({ SIDECAR_VIDISPINE_CA: 'configmap/vidispine-ca' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain.stop(), withDefault.stop()]);
  });

  it("the webhook's default: the ConfigMap mounted read-only, its ca.crt the proxy's VIDISPINE_CA_FILE", async () => {
    const result = await injected(withDefault, caPod({}));
    expect(caOf(result)).toEqual({
      file: '/etc/vidispine-auth-proxy-ca/ca.crt',
      mounts: [
        {
          name: 'vidispine-auth-proxy-ca',
          mountPath: '/etc/vidispine-auth-proxy-ca',
          readOnly: true,
        },
      ],
      volumes: [
        {
          name: 'vidispine-auth-proxy-ca',
          configMap: { name: 'vidispine-ca', defaultMode: 0o444 },
        },
      ],
    });
    const [loaded] = appConfigs([result as K8sObject]);
    expect(loaded?.config?.vidispine.caFile).toMatch(/\/etc\/vidispine-auth-proxy-ca\/ca\.crt$/);
    // The app's containers see nothing of it.
    expect(at(result, 'spec', 'containers')).toEqual([APP]);
  });

  it("the pod's own Secret and key, in place of the default or where there is none", async () => {
    const own = {
      'vidispine-auth-proxy/vidispine-ca': 'secret/media-ca',
      'vidispine-auth-proxy/vidispine-ca-key': 'bundle.pem',
    };
    for (const w of [plain, withDefault]) {
      expect(caOf(await injected(w, caPod(own)))).toMatchObject({
        file: '/etc/vidispine-auth-proxy-ca/bundle.pem',
        volumes: [
          {
            name: 'vidispine-auth-proxy-ca',
            secret: { secretName: 'media-ca', defaultMode: 0o444 },
          },
        ],
      });
    }
  });

  it("none: Node's CAs alone, also where the webhook has a default; no CA at all without one", async () => {
    const none = await injected(
      withDefault,
      caPod({ 'vidispine-auth-proxy/vidispine-ca': 'none' }),
    );
    const nothing = await injected(plain, caPod({}));
    for (const result of [none, nothing]) {
      expect(caOf(result)).toEqual({ file: undefined, mounts: [], volumes: [] });
      expect(records(at(result, 'spec', 'volumes'))).toHaveLength(1);
    }
  });

  it('the injected proxy trusts an https Vidispine that the private CA signed, and only with it', async () => {
    const ca = await createTestCa('media private CA');
    const simulator = await startSimulator();
    // Vidispine behind TLS with a certificate of the private CA.
    const front = await startHttpsFront(ca, Number(new URL(simulator.sim.url).port));
    const { url } = front;
    const [port, opsPort] = [await closedPort(), await closedPort()];
    const asked = (ca: string) =>
      pod({
        'vidispine-auth-proxy/vidispine-url': url,
        'vidispine-auth-proxy/vidispine-ca': ca,
        'vidispine-auth-proxy/port': String(port),
        'vidispine-auth-proxy/ops-port': String(opsPort),
      });
    try {
      const trusted = await runInjected(await injected(plain, asked('configmap/media-ca')), url, {
        caPem: ca.certPem,
      });
      try {
        expect(await (await fetch(`http://127.0.0.1:${port}/API/whoami`)).text()).toBe('alice');
      } finally {
        await stopped(trusted);
      }
      const untrusted = await runInjected(await injected(plain, asked('none')), url);
      try {
        const failed = untrusted.lines.find((l) => l.event === 'token_mint_failed');
        expect(JSON.stringify(failed)).toMatch(/certificate/i);
      } finally {
        await stopped(untrusted);
      }
    } finally {
      front.close();
      await simulator.sim.close();
    }
  });

  it('never clashes with a volume name the pod uses', async () => {
    const result = await injected(
      withDefault,
      caPod({}, { volumes: [{ name: 'vidispine-auth-proxy-ca', emptyDir: {} }] }),
    );
    expect(caOf(result)).toMatchObject({
      mounts: [{ name: 'vidispine-auth-proxy-ca-2' }],
      volumes: [{ name: 'vidispine-auth-proxy-ca-2', configMap: { name: 'vidispine-ca' } }],
    });
  });

  it.each<[string, Record<string, string>, string]>([
    [
      'not configmap/ or secret/',
      { 'vidispine-auth-proxy/vidispine-ca': 'vidispine-ca' },
      'vidispine-auth-proxy/vidispine-ca: "vidispine-ca" must be configmap/NAME, secret/NAME or none (e.g. configmap/vidispine-ca)',
    ],
    [
      'none written in capitals, told that none is one of its values',
      { 'vidispine-auth-proxy/vidispine-ca': 'None' },
      'vidispine-auth-proxy/vidispine-ca: "None" must be configmap/NAME, secret/NAME or none (e.g. configmap/vidispine-ca)',
    ],
    [
      'a name no ConfigMap can have',
      { 'vidispine-auth-proxy/vidispine-ca': 'configmap/Vidispine_CA' },
      'vidispine-auth-proxy/vidispine-ca: "configmap/Vidispine_CA" names no valid ConfigMap',
    ],
    [
      'a key no Secret can have',
      {
        'vidispine-auth-proxy/vidispine-ca': 'secret/media-ca',
        'vidispine-auth-proxy/vidispine-ca-key': '../ca.crt',
      },
      'vidispine-auth-proxy/vidispine-ca-key: "../ca.crt" must be a Secret key',
    ],
    [
      'a key without its CA',
      { 'vidispine-auth-proxy/vidispine-ca-key': 'bundle.pem' },
      'vidispine-auth-proxy/vidispine-ca-key: only used with vidispine-auth-proxy/vidispine-ca',
    ],
    [
      'a key beside none, which mounts no CA to read it from',
      {
        'vidispine-auth-proxy/vidispine-ca': 'none',
        'vidispine-auth-proxy/vidispine-ca-key': 'bundle.pem',
      },
      'vidispine-auth-proxy/vidispine-ca-key: not used with vidispine-auth-proxy/vidispine-ca: none (no CA is mounted): remove it',
    ],
  ])('is denied when %s', async (_what, annotations, message) => {
    const answer = await withDefault.review(podReview(caPod(annotations)));
    expect(answer.allowed).toBe(false);
    expect(answer.status?.message).toContain(message);
  });
});

describeWithNetns('an IPv6-only cluster: the kubelet probes the pod on its IPv6 address', () => {
  let webhook: RunningWebhook;
  let podNet: Ipv6OnlyPod;
  beforeAll(async () => {
    webhook = await startWebhook();
    podNet = createIpv6OnlyPod();
  });
  afterAll(async () => {
    podNet.remove();
    await webhook.stop();
  });

  it("answers its probes there, and its data listener stays on the pod's loopback", async () => {
    const simulator = await startSimulator();
    try {
      const { result, port, opsPort } = await onFreePorts(webhook);
      // No Vidispine is reachable from the namespace: the probes answer all the same.
      const child = await runInjected(result, simulator.sim.url, {
        as: { netns: podNet.namespace },
      });
      try {
        const probe = await fetch(`http://[${podNet.address}]:${opsPort}/livez`);
        expect(probe.status).toBe(200);
        await expect(fetch(`http://[${podNet.address}]:${port}/API/whoami`)).rejects.toThrow();
      } finally {
        await stopped(child);
      }
    } finally {
      await simulator.sim.close();
    }
  });
});

describe('a private registry: the proxy image pulled with the pull secrets the webhook names', () => {
  let webhook: RunningWebhook;
  beforeAll(async () => {
    webhook = await startWebhook({ SIDECAR_IMAGE_PULL_SECRETS: 'regcred, mirror-cred' });
  });
  afterAll(() => webhook.stop());

  it("adds them to a pod that has none, and after a pod's own, each once", async () => {
    const none = await injected(webhook, pod({}));
    expect(at(none, 'spec', 'imagePullSecrets')).toEqual([
      { name: 'regcred' },
      { name: 'mirror-cred' },
    ]);
    const own = await injected(
      webhook,
      pod({}, { imagePullSecrets: [{ name: 'shop-registry' }, { name: 'regcred' }] }),
    );
    expect(at(own, 'spec', 'imagePullSecrets')).toEqual([
      { name: 'shop-registry' },
      { name: 'regcred' },
      { name: 'mirror-cred' },
    ]);
  });

  it('adds a Secret the setting names twice once: Kubernetes warns of a duplicate name in every such pod', async () => {
    const twice = await startWebhook({
      SIDECAR_IMAGE_PULL_SECRETS: 'regcred, mirror-cred,regcred',
    });
    try {
      const result = await injected(twice, pod({}));
      expect(at(result, 'spec', 'imagePullSecrets')).toEqual([
        { name: 'regcred' },
        { name: 'mirror-cred' },
      ]);
    } finally {
      await twice.stop();
    }
  });

  it('adds none where the webhook names none', async () => {
    const plain = await startWebhook();
    try {
      const result = await injected(plain, pod({}));
      expect(at(result, 'spec', 'imagePullSecrets')).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});

describe("a native sidecar: Kubernetes stops it after the app's containers have exited", () => {
  let webhook: RunningWebhook;
  beforeAll(async () => {
    webhook = await startWebhook();
  });
  afterAll(() => webhook.stop());

  it('the injected proxy exits at SIGTERM without serving on first: no one is left to call it', async () => {
    const simulator = await startSimulator();
    try {
      const { result } = await onFreePorts(webhook);
      const child = await runInjected(result, simulator.sim.url);
      try {
        child.kill('SIGTERM');
        expect(await child.exited).toEqual({ code: 0, signal: null });
        const begun = child.lines.find((l) => l.event === 'shutdown' && l.step === 'begin');
        expect(begun).toMatchObject({ delaySeconds: 0 });
      } finally {
        child.kill();
      }
    } finally {
      await simulator.sim.close();
    }
  });
});
