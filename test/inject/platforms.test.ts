/**
 * The injected proxy where the platform is demanding: OpenShift's restricted-v2 SCC, which
 * refuses a fixed user and assigns one of the namespace's range with group 0, and IPv6-only
 * clusters, where the kubelet probes the pod's IPv6 address. The proxy runs from the
 * environment the webhook gave it, against the simulator, with real sockets.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proxyContainers, workloadProblems } from '../deploy/checks';
import { type K8sObject, at, records, schemaProblems } from '../deploy/render';
import { ChildProxy } from '../support/child-proxy';
import { patched, podReview, type RunningWebhook, startWebhook } from '../support/inject';
import { closedPort } from '../support/net';
import { startSimulator } from '../support/simulator';

type Pod = Record<string, unknown>;

const APP = { name: 'shop', image: 'registry.example.com/shop:2' };
/** A user of an OpenShift namespace's range, as restricted-v2 assigns it, with group 0. */
const ASSIGNED = { uid: 1000770000, gid: 0 };

function pod(annotations: Record<string, string>, spec: Record<string, unknown> = {}): Pod {
  return {
    metadata: {
      name: 'shop-7d9c-x',
      labels: { 'vidispine-auth-proxy/inject': 'true' },
      annotations: { 'vidispine-auth-proxy/user': 'alice', ...annotations },
    },
    spec: { containers: [APP], ...spec },
  };
}

const sidecarOf = (p: Pod): Record<string, unknown> | undefined =>
  records(at(p, 'spec', 'initContainers')).find((c) => c.name === 'vidispine-auth-proxy');

async function injected(w: RunningWebhook, stock: Pod): Promise<Pod> {
  const result = patched(stock, await w.review(podReview(stock)));
  const objects = [result as K8sObject];
  expect([...schemaProblems(objects), ...workloadProblems(objects)]).toEqual([]);
  return result;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vap-platforms-'));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the injected container's proxy as `as`: its environment as the webhook wrote it, the
 * Secret's mount a folder of 0444 files owned by root, as the kubelet makes it.
 */
async function runInjected(
  result: Pod,
  vidispine: string,
  as: { uid?: number; gid?: number } = {},
): Promise<ChildProxy> {
  const [proxy] = proxyContainers([{ ...(result as K8sObject), metadata: { name: 'shop' } }]);
  const mount = String(records(sidecarOf(result)?.volumeMounts)[0]?.mountPath);
  const secrets = mkdtempSync(join(dir, 'secret-'));
  chmodSync(secrets, 0o755);
  writeFileSync(join(secrets, 'password'), 'alice-password\n', { mode: 0o444 });
  const env = Object.fromEntries(
    [...(proxy?.env.values() ?? [])].map((e) => [
      String(e.name),
      String(e.value).replace(mount, secrets).replace('http://vidispine.media.svc:8080', vidispine),
    ]),
  );
  const child = ChildProxy.start(['run'], { ...env, SHUTDOWN_DELAY_SECONDS: '0' }, [], as);
  await child.waitForEvent('token_minted');
  return child;
}

async function stopped(child: ChildProxy): Promise<void> {
  child.kill('SIGTERM');
  await child.exited;
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
        { 'vidispine-auth-proxy/secret': 'shop-vidispine' },
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

  it('the proxy serves under an arbitrary uid with group 0: it writes nothing that needs an owner', async () => {
    const simulator = await startSimulator();
    const [port, opsPort] = [await closedPort(), await closedPort()];
    const result = await injected(
      webhook,
      pod({
        'vidispine-auth-proxy/secret': 'shop-vidispine',
        'vidispine-auth-proxy/port': String(port),
        'vidispine-auth-proxy/ops-port': String(opsPort),
      }),
    );
    const child = await runInjected(result, simulator.sim.url, ASSIGNED);
    try {
      const whoami = await fetch(`http://127.0.0.1:${port}/API/whoami`);
      expect(await whoami.text()).toBe('alice');
      expect((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status).toBe(200);
    } finally {
      await stopped(child);
      await simulator.sim.close();
    }
  });

  it('SIDECAR_UID takes another fixed user', async () => {
    const other = await startWebhook({ SIDECAR_UID: '1001' });
    try {
      const result = await injected(other, pod({ 'vidispine-auth-proxy/secret': 's' }));
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
