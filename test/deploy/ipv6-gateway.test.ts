/**
 * The gateway in an IPv6-only cluster: its Service sends clients to the pod's IPv6 address.
 * The proxy runs from the environment the chart and deploy/base render for the gateway's
 * Deployment, in a network namespace laid out as a pod of such a cluster, with Vidispine
 * across the pod's link (over IPv6 too); a client outside the namespace calls it there.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator, type Simulator } from '../../src/simulator';
import { createIpv6OnlyPod, type Ipv6OnlyPod, netnsUnavailable } from '../support/netns';
import { gatewayContainer } from './checks';
import {
  CHART,
  HELMS,
  type Helm,
  type K8sObject,
  ROOT,
  records,
  renderChart,
  renderKustomization,
} from './render';
import { runContainer, stopped } from './run-container';

const unavailable = netnsUnavailable();
const describeWithNetns = unavailable === undefined ? describe : describe.skip;
if (unavailable !== undefined) console.warn(`IPv6-only gateway tests skipped: ${unavailable}`);

const gateways: [string, () => K8sObject[]][] = [
  [
    'the chart',
    () =>
      renderChart(HELMS[1] as Helm, CHART, [], {
        set: ['image.repository=registry.example.com/vidispine-auth-proxy'],
      }).objects,
  ],
  ['deploy/base', () => renderKustomization(join(ROOT, 'deploy', 'base')).objects],
];

describeWithNetns('an IPv6-only cluster: clients reach the gateway on its pod IP', () => {
  let podNet: Ipv6OnlyPod;
  let vidispine: Simulator;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vap-ipv6-gateway-'));
    chmodSync(dir, 0o755);
    podNet = createIpv6OnlyPod();
    // Both renders act as the user `proxy`.
    vidispine = createSimulator({ users: [{ name: 'proxy', password: 'proxy-password' }] });
    await vidispine.listen(0, podNet.node);
  });
  afterAll(async () => {
    await vidispine.close();
    podNet.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(gateways)('%s: its data port answers there as its user', async (_name, render) => {
    const gateway = gatewayContainer(render());
    // The container port the Service targets.
    const port = Number(
      records(gateway.container.ports).find((p) => p.name === 'http')?.containerPort,
    );
    // The namespace has ports of its own: the rendered ones are free there.
    const child = await runContainer(gateway, dir, {
      files: { VIDISPINE_PASSWORD_FILE: 'proxy-password\n' },
      env: { VIDISPINE_URL: vidispine.url },
      as: { netns: podNet.namespace },
    });
    try {
      expect(child.lines.map((l) => l.event)).toContain('token_minted');
      const answer = await fetch(`http://[${podNet.address}]:${port}/API/whoami`);
      expect([answer.status, await answer.text()]).toEqual([200, 'proxy']);
    } finally {
      await stopped(child);
    }
  });
});
