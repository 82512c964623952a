/**
 * deploy/monitoring's PodMonitors scrape pods by a label: every workload the project ships
 * (the Helm gateway and the sidecar template's example, every kustomize workload, a pod the
 * webhook injects) must carry the proxy's and name its ops port as that PodMonitor does, and
 * the injection webhook's pods (chart and kustomize) the webhook's, each selected by one
 * monitor only. The selectors are read from deploy/monitoring, so the two cannot drift apart.
 * The chart's ServiceMonitor for the webhook must reach the same pods and port.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matches } from './checks';
import { PROXY_CONTAINER } from './contract';
import type { K8sObject } from './render';
import { CHART, HELMS, ROOT, at, byKind, records } from './render';
import { renderChart, renderKustomization, renderSidecarApp } from './render';
import { patched, podReview, startWebhook } from '../support/inject';

const podMonitors = byKind(
  renderKustomization(join(ROOT, 'deploy', 'monitoring')).objects,
  'PodMonitor',
);

/** A PodMonitor of deploy/monitoring: what it selects, and the ports of which container. */
interface Monitor {
  name: string;
  selector: unknown;
  ports: unknown[];
  container: string;
}

function monitor(name: string, container: string): Monitor {
  const found = podMonitors.find((m) => m.metadata.name === name);
  return {
    name,
    selector: at(found, 'spec', 'selector', 'matchLabels'),
    ports: records(at(found, 'spec', 'podMetricsEndpoints')).map((e) => e.port),
    container,
  };
}

const PROXY = monitor('vidispine-auth-proxy', PROXY_CONTAINER);
const WEBHOOK = monitor('vidispine-auth-proxy-injector', 'injector');

const containers = (spec: unknown) => [
  ...records(at(spec, 'initContainers')),
  ...records(at(spec, 'containers')),
];

/** Where `m` misses a pod: not selected, or no port of the scraped name on its container. */
function unscraped(where: string, labels: unknown, spec: unknown, m = PROXY): string[] {
  const out: string[] = [];
  if (!matches(labels, m.selector)) out.push(`${where}: labels ${JSON.stringify(labels)}`);
  const scraped = containers(spec).find((c) => c.name === m.container);
  const names = records(scraped?.ports).map((p) => p.name);
  for (const port of m.ports)
    if (!names.includes(port)) out.push(`${where}: no ${m.container} port ${String(port)}`);
  return out;
}

const workloads = (objects: readonly K8sObject[]): K8sObject[] =>
  objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));
const podLabels = (o: K8sObject): unknown => at(o, 'spec', 'template', 'metadata', 'labels');

/** Where `m` misses the pods of workloads, or that there are none. */
function unscrapedWorkloads(objects: readonly K8sObject[], m = PROXY): string[] {
  const found = workloads(objects);
  if (found.length === 0) return ['no workload rendered'];
  return found.flatMap((o) =>
    unscraped(`${o.kind}/${o.metadata.name}`, podLabels(o), at(o, 'spec', 'template', 'spec'), m),
  );
}

/** The workloads `m` selects. */
const selected = (objects: readonly K8sObject[], m: Monitor): string[] =>
  workloads(objects)
    .filter((o) => matches(podLabels(o), m.selector))
    .map((o) => `${o.kind}/${o.metadata.name}`);

const isWebhook = (o: K8sObject): boolean =>
  containers(at(o, 'spec', 'template', 'spec')).some((c) => c.name === 'injector');

/**
 * Where the chart's ServiceMonitor for the webhook misses its pods: the Service it selects,
 * the pods that Service selects, and the container port its endpoint's port leads to.
 */
function unscrapedByServiceMonitor(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const monitors = byKind(objects, 'ServiceMonitor').filter(
    (m) => at(m, 'metadata', 'labels', 'app.kubernetes.io/component') === 'injector',
  );
  if (monitors.length !== 1) return [`${monitors.length} ServiceMonitors for the webhook`];
  const sm = monitors[0];
  const services = byKind(objects, 'Service').filter((svc) =>
    matches(at(svc, 'metadata', 'labels'), at(sm, 'spec', 'selector', 'matchLabels')),
  );
  if (services.length !== 1) return [`the ServiceMonitor selects ${services.length} Services`];
  const service = services[0];
  const pods = workloads(objects).filter((o) =>
    matches(podLabels(o), at(service, 'spec', 'selector')),
  );
  if (pods.length !== 1 || !isWebhook(pods[0]))
    out.push(`Service ${service.metadata.name} selects ${pods.map((o) => o.metadata.name)}`);
  for (const endpoint of records(at(sm, 'spec', 'endpoints'))) {
    const port = records(at(service, 'spec', 'ports')).find((p) => p.name === endpoint.port);
    if (port === undefined) {
      out.push(`no Service port ${String(endpoint.port)}`);
      continue;
    }
    const webhook = containers(at(pods[0], 'spec', 'template', 'spec')).find(
      (c) => c.name === 'injector',
    );
    if (!records(webhook?.ports).some((p) => p.name === port.targetPort))
      out.push(`Service port ${String(port.name)} leads to no port of the webhook's container`);
  }
  const namespaces = at(sm, 'spec', 'namespaceSelector', 'matchNames');
  if (!Array.isArray(namespaces) || !namespaces.includes(service.metadata.namespace ?? 'media'))
    out.push(`namespaceSelector ${JSON.stringify(namespaces)}`);
  return out;
}

it('deploy/monitoring has a PodMonitor for the proxy and one for the webhook, by label and named port', () => {
  expect(podMonitors.map((m) => m.metadata.name).sort()).toEqual([PROXY.name, WEBHOOK.name]);
  for (const m of [PROXY, WEBHOOK]) {
    expect(Object.keys(m.selector as object).length).toBeGreaterThan(0);
    expect(m.ports.length).toBeGreaterThan(0);
  }
  expect(WEBHOOK.ports).toEqual(['injector-ops']);
});

const WEBHOOK_VALUES = [
  'image.repository=registry.example.com/vidispine-auth-proxy',
  'injector.enabled=true',
  'injector.sidecar.vidispineUrl=http://vidispine.media.svc:8080',
];

describe.each(HELMS)('$name', (helm) => {
  it("the chart's gateway pods are scraped", () => {
    const { objects } = renderChart(helm, CHART, [], {
      set: ['image.repository=registry.example.com/vidispine-auth-proxy'],
    });
    expect(byKind(objects, 'Deployment')).toHaveLength(1);
    expect(unscrapedWorkloads(objects)).toEqual([]);
  });

  it("the chart's webhook pods are scraped by the webhook's PodMonitor alone, the gateway's by the proxy's", () => {
    const { objects } = renderChart(helm, CHART, [], { set: WEBHOOK_VALUES });
    const [webhook, gateway] = [
      workloads(objects).filter(isWebhook),
      workloads(objects).filter((o) => !isWebhook(o)),
    ];
    expect([webhook.length, gateway.length]).toEqual([1, 1]);
    expect(unscrapedWorkloads(webhook, WEBHOOK)).toEqual([]);
    expect(unscrapedWorkloads(gateway, PROXY)).toEqual([]);
    expect(selected(webhook, PROXY)).toEqual([]);
    expect(selected(gateway, WEBHOOK)).toEqual([]);
  });

  it("the chart's ServiceMonitor for the webhook scrapes its pods on injector-ops, whatever the names", () => {
    for (const names of [[], ['fullnameOverride=media-gateway'], ['nameOverride=gw']]) {
      const { objects } = renderChart(helm, CHART, [], {
        set: [...WEBHOOK_VALUES, 'metrics.serviceMonitor.enabled=true', ...names],
      });
      expect(unscrapedByServiceMonitor(objects)).toEqual([]);
    }
  });

  it("the chart's webhook: injector.podLabels opts out of the PodMonitor, for its ServiceMonitor alone", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vap-podlabels-'));
    try {
      const values = join(dir, 'values.yaml');
      writeFileSync(
        values,
        "injector:\n  podLabels:\n    vidispine-auth-proxy/injector-metrics: 'false'\n    team: media\n",
      );
      const { objects } = renderChart(helm, CHART, [values], {
        set: [...WEBHOOK_VALUES, 'gateway.enabled=false', 'metrics.serviceMonitor.enabled=true'],
      });
      expect(selected(objects, WEBHOOK)).toEqual([]);
      expect(podLabels(workloads(objects)[0])).toMatchObject({ team: 'media' });
      expect(unscrapedByServiceMonitor(objects)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

it.each(['injector', 'injector/base'])(
  "deploy/%s's webhook pods are scraped by the webhook's PodMonitor alone",
  (dir) => {
    const { objects } = renderKustomization(join(ROOT, 'deploy', dir));
    expect(workloads(objects).filter(isWebhook)).toHaveLength(1);
    expect(unscrapedWorkloads(objects, WEBHOOK)).toEqual([]);
    expect(selected(objects, PROXY)).toEqual([]);
  },
);

it("the webhook's PodMonitor selects none of the proxy's workloads", () => {
  for (const dir of ['base', 'examples/multi-user', 'examples/sidecar']) {
    expect(selected(renderKustomization(join(ROOT, 'deploy', dir)).objects, WEBHOOK)).toEqual([]);
  }
  expect(selected(renderSidecarApp(HELMS[0]).objects, WEBHOOK)).toEqual([]);
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
    // Only the webhook's own pods are the webhook's.
    expect(matches(at(result, 'metadata', 'labels'), WEBHOOK.selector)).toBe(false);
  } finally {
    await webhook.stop();
  }
});
