/**
 * deploy/monitoring's PodMonitor scrapes pods by a label: every workload the project ships
 * (the Helm gateway and the sidecar template's example, every kustomize workload, a pod the
 * webhook injects) must carry it and name its ops port as the PodMonitor does. The selector
 * is read from deploy/monitoring, so the two cannot drift apart.
 */
import { join } from 'node:path';
import { matches } from './checks';
import { PROXY_CONTAINER } from './contract';
import type { K8sObject } from './render';
import { CHART, HELMS, ROOT, at, byKind, records } from './render';
import { renderChart, renderKustomization, renderSidecarApp } from './render';
import { patched, podReview, startWebhook } from '../support/inject';

const podMonitor = byKind(
  renderKustomization(join(ROOT, 'deploy', 'monitoring')).objects,
  'PodMonitor',
);
const selector = at(podMonitor[0], 'spec', 'selector', 'matchLabels');
const scrapedPorts = records(at(podMonitor[0], 'spec', 'podMetricsEndpoints')).map((e) => e.port);

/** Where the PodMonitor misses a pod: not selected, or no proxy port of the scraped name. */
function unscraped(where: string, labels: unknown, spec: unknown): string[] {
  const out: string[] = [];
  if (!matches(labels, selector)) out.push(`${where}: labels ${JSON.stringify(labels)}`);
  const proxy = [...records(at(spec, 'initContainers')), ...records(at(spec, 'containers'))].find(
    (c) => c.name === PROXY_CONTAINER,
  );
  const names = records(proxy?.ports).map((p) => p.name);
  for (const port of scrapedPorts)
    if (!names.includes(port)) out.push(`${where}: no proxy port ${String(port)}`);
  return out;
}

/** Where the PodMonitor misses the pods of workloads, or that there are none. */
function unscrapedWorkloads(objects: readonly K8sObject[]): string[] {
  const found = objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));
  if (found.length === 0) return ['no workload rendered'];
  return found.flatMap((o) =>
    unscraped(
      `${o.kind}/${o.metadata.name}`,
      at(o, 'spec', 'template', 'metadata', 'labels'),
      at(o, 'spec', 'template', 'spec'),
    ),
  );
}

it('deploy/monitoring has one PodMonitor, selecting by label and scraping a named port', () => {
  expect(podMonitor).toHaveLength(1);
  expect(Object.keys(selector as object).length).toBeGreaterThan(0);
  expect(scrapedPorts.length).toBeGreaterThan(0);
});

describe.each(HELMS)('$name', (helm) => {
  it("the chart's gateway pods are scraped", () => {
    const { objects } = renderChart(helm, CHART, [], {
      set: ['image.repository=registry.example.com/vidispine-auth-proxy'],
    });
    expect(byKind(objects, 'Deployment')).toHaveLength(1);
    expect(unscrapedWorkloads(objects)).toEqual([]);
  });

  it("helm/examples/app-with-sidecar's pods are scraped", () => {
    const { objects } = renderSidecarApp(helm);
    expect(unscrapedWorkloads(objects)).toEqual([]);
  });
});

it.each([
  'base',
  'examples/multi-user',
  'examples/sidecar',
  'examples/sidecar-access-key',
  'examples/sidecar-admin',
  'examples/sidecar-runas',
])("deploy/%s's pods are scraped", (dir) => {
  const { objects } = renderKustomization(join(ROOT, 'deploy', dir));
  expect(unscrapedWorkloads(objects)).toEqual([]);
});

it('a pod the webhook injects is scraped', async () => {
  const webhook = await startWebhook();
  try {
    const pod = {
      metadata: {
        name: 'shop',
        labels: { app: 'shop', 'vidispine-auth-proxy/inject': 'true' },
        annotations: {
          'vidispine-auth-proxy/user': 'shop',
          'vidispine-auth-proxy/secret': 'shop-vidispine',
          'vidispine-auth-proxy/vidispine-url': 'http://vidispine.media.svc:8080',
        },
      },
      spec: { containers: [{ name: 'shop', image: 'registry.example.com/shop:2' }] },
    };
    const result = patched(pod, await webhook.review(podReview(pod)));
    expect(unscraped('injected Pod', at(result, 'metadata', 'labels'), at(result, 'spec'))).toEqual(
      [],
    );
  } finally {
    await webhook.stop();
  }
});
