/**
 * The alert for a proxy Prometheus cannot scrape selects its targets by `job`, the one label
 * `up` has of its own. The job is whatever the scrape object makes it, so each shipped way
 * of scraping the proxy must give one that alert selects, whatever the release is called;
 * the same for the injection webhook and its own down alert. Neither alert may take the
 * other's targets: a webhook that is down would page as the proxy, or twice.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { CHART, HELMS, ROOT, at, records, renderChart, type K8sObject } from '../deploy/render';
import { ruleFile, ruleGroups } from './rules';
import { describeWithPromtool, promtool } from './tools';

const DOWN = 'VidispineAuthProxyDown';
const WEBHOOK_DOWN = 'VidispineAuthProxyWebhookDown';
const EXAMPLES = join(CHART, 'examples');

/**
 * The job the Prometheus Operator gives the targets of a ServiceMonitor: the value of the
 * Service's `jobLabel` label if it names one, else the Service's name; then the endpoint's
 * relabelings, which run after the Operator's own, may set it.
 */
function serviceMonitorJob(monitor: K8sObject, service: K8sObject): string {
  const jobLabel = at(monitor, 'spec', 'jobLabel');
  const labels = (at(service, 'metadata', 'labels') ?? {}) as Record<string, string>;
  let job =
    typeof jobLabel === 'string' && labels[jobLabel] ? labels[jobLabel] : service.metadata.name;
  for (const relabeling of records(at(monitor, 'spec', 'endpoints', 0, 'relabelings') ?? [])) {
    if (relabeling.targetLabel === 'job' && relabeling.sourceLabels === undefined) {
      job = String(relabeling.replacement);
    }
  }
  return job;
}

/**
 * The job of a PodMonitor's targets: `namespace/name`, then its endpoint's relabelings, as
 * for a ServiceMonitor.
 */
function podMonitorJob(file: string, namespace: string): string {
  const monitor = parseYaml(
    readFileSync(join(ROOT, 'deploy', 'monitoring', file), 'utf8'),
  ) as K8sObject;
  let job = `${namespace}/${monitor.metadata.name}`;
  for (const relabeling of records(
    at(monitor, 'spec', 'podMetricsEndpoints', 0, 'relabelings') ?? [],
  )) {
    if (relabeling.targetLabel === 'job' && relabeling.sourceLabels === undefined) {
      job = String(relabeling.replacement);
    }
  }
  return job;
}

/** The gateway and the webhook, each scraped by its ServiceMonitor. */
function chart(set: string[]): K8sObject[] {
  return renderChart(HELMS[0], CHART, [join(EXAMPLES, 'production.yaml')], {
    set: [
      'metrics.serviceMonitor.enabled=true',
      'metrics.prometheusRule.enabled=true',
      'injector.enabled=true',
      ...set,
    ],
  }).objects;
}

/** The ServiceMonitor of the chart's gateway or webhook, and the Service it scrapes. */
function chartJob(objects: K8sObject[], which: 'gateway' | 'injector'): string {
  const pick = (kind: string): K8sObject => {
    const found = objects.filter(
      (o) =>
        o.kind === kind &&
        (at(o, 'metadata', 'labels', 'app.kubernetes.io/component') === 'injector') ===
          (which === 'injector'),
    );
    if (found.length !== 1) throw new Error(`${found.length} ${which} ${kind} objects`);
    return found[0];
  };
  return serviceMonitorJob(pick('ServiceMonitor'), pick('Service'));
}

const only = (objects: K8sObject[], kind: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} ${kind} objects`);
  return found[0];
};

/** Whether the chart's `alert` fires for a target of `job` unreachable for 10 minutes. */
function downFiresFor(objects: K8sObject[], job: string, alert = DOWN): boolean {
  const groups = ruleGroups(only(objects, 'PrometheusRule'));
  const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
  if (rule === undefined) throw new Error(`no ${alert} alert`);
  const labels = { job, instance: '10.0.0.7:9090' };
  const annotations = Object.fromEntries(
    Object.entries(rule.annotations ?? {}).map(([k, v]) => [
      k,
      v.replace(/\{\{\s*\$labels\.instance\s*\}\}/g, labels.instance),
    ]),
  );
  const test = {
    rule_files: ['rules.yaml'],
    evaluation_interval: '30s',
    tests: [
      {
        interval: '30s',
        input_series: [
          { series: `up{job="${job}",instance="${labels.instance}"}`, values: '0x20' },
        ],
        alert_rule_test: [
          {
            eval_time: '7m',
            alertname: alert,
            exp_alerts: [
              { exp_labels: { ...labels, ...rule.labels }, exp_annotations: annotations },
            ],
          },
        ],
      },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'vap-jobs-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), ruleFile(groups));
    writeFileSync(join(dir, 'test.yaml'), stringify(test));
    return promtool(['test', 'rules', 'test.yaml'], dir).code === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describeWithPromtool('the down alert selects every shipped scrape job', () => {
  it.each([
    ['the default names', []],
    ['fullnameOverride', ['fullnameOverride=media-gateway']],
    ['nameOverride', ['nameOverride=gw']],
  ])("the chart's ServiceMonitors, %s", (_names, set) => {
    const objects = chart(set);
    const gateway = chartJob(objects, 'gateway');
    const webhook = chartJob(objects, 'injector');
    expect([downFiresFor(objects, gateway), downFiresFor(objects, gateway, WEBHOOK_DOWN)]).toEqual([
      true,
      false,
    ]);
    expect([downFiresFor(objects, webhook), downFiresFor(objects, webhook, WEBHOOK_DOWN)]).toEqual([
      false,
      true,
    ]);
  });

  it("deploy/monitoring's PodMonitors", () => {
    const objects = chart([]);
    const proxy = podMonitorJob('podmonitor.yaml', 'monitoring');
    const webhook = podMonitorJob('injector-podmonitor.yaml', 'monitoring');
    expect([downFiresFor(objects, proxy), downFiresFor(objects, proxy, WEBHOOK_DOWN)]).toEqual([
      true,
      false,
    ]);
    expect([downFiresFor(objects, webhook), downFiresFor(objects, webhook, WEBHOOK_DOWN)]).toEqual([
      false,
      true,
    ]);
  });

  it('a PodMonitor of your own for the webhook, named after it (namespace/name), is the webhook', () => {
    const objects = chart([]);
    const job = 'media/vidispine-auth-proxy-injector';
    expect([downFiresFor(objects, job), downFiresFor(objects, job, WEBHOOK_DOWN)]).toEqual([
      false,
      true,
    ]);
  });
});
