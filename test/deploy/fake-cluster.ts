/**
 * Just enough of a Kubernetes API for Helm's `lookup` during `helm template
 * --dry-run=server`: version, discovery of the kinds the injector renders, and GET of the
 * objects it holds (404 for anything else), so a test can render a chart as an upgrade over an
 * existing release would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { K8sObject } from './render';

export interface FakeCluster {
  /** A kubeconfig file that points at it. */
  readonly kubeconfig: string;
  /** GET paths asked for, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** The resources it advertises, by group version: what the injector's objects need. */
const RESOURCES: Readonly<Record<string, readonly (readonly [string, string, boolean])[]>> = {
  v1: [
    ['Secret', 'secrets', true],
    ['ConfigMap', 'configmaps', true],
    ['Service', 'services', true],
    ['ServiceAccount', 'serviceaccounts', true],
  ],
  'apps/v1': [['Deployment', 'deployments', true]],
  'policy/v1': [['PodDisruptionBudget', 'poddisruptionbudgets', true]],
  'admissionregistration.k8s.io/v1': [
    ['MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false],
  ],
};

const PLURALS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(RESOURCES).flatMap((list) => list.map(([kind, plural]) => [kind, plural])),
);

function resourceList(groupVersion: string): unknown {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: (RESOURCES[groupVersion] ?? []).map(([kind, name, namespaced]) => ({
      name,
      kind,
      namespaced,
      verbs: ['get', 'list', 'create'],
    })),
  };
}

export async function startFakeCluster(objects: readonly K8sObject[]): Promise<FakeCluster> {
  const byPath = new Map(
    objects.map((o) => {
      const ns = String(o.metadata.namespace);
      return [`/api/v1/namespaces/${ns}/${PLURALS[o.kind]}/${o.metadata.name}`, o];
    }),
  );
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requests.push(path);
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (path === '/version') return send(200, { major: '1', minor: '35', gitVersion: 'v1.35.2' });
    if (path === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'] });
    if (path === '/apis') {
      const groups = Object.keys(RESOURCES)
        .filter((gv) => gv.includes('/'))
        .map((gv) => {
          const [name, version] = gv.split('/');
          const v = { groupVersion: gv, version };
          return { name, versions: [v], preferredVersion: v };
        });
      return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    if (path === '/api/v1') return send(200, resourceList('v1'));
    if (path.startsWith('/apis/') && RESOURCES[path.slice(6)])
      return send(200, resourceList(path.slice(6)));
    const found = byPath.get(path);
    if (found) return send(200, found);
    send(404, {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dir = mkdtempSync(join(tmpdir(), 'vap-fake-cluster-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'fake', user: { token: 'fake' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }),
  );
  return {
    kubeconfig,
    requests,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
