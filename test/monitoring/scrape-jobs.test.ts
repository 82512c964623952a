/**
 * The alert for a proxy Prometheus cannot scrape selects its targets by `job`, the one label
 * `up` has of its own. The job is whatever the scrape object makes it, so each shipped way
 * of scraping the proxy must give one that alert selects, whatever the release is called.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { CHART, HELMS, ROOT, at, records, renderChart, type K8sObject } from '../deploy/render';
import { ruleFile, ruleGroups } from './rules';
import { describeWithPromtool, PROMTOOL } from './tools';

const DOWN = 'VidispineAuthProxyDown';
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

/** The job of a PodMonitor's targets: `namespace/name`. */
function podMonitorJob(namespace: string): string {
  const monitor = parseYaml(
    readFileSync(join(ROOT, 'deploy', 'monitoring', 'podmonitor.yaml'), 'utf8'),
  ) as K8sObject;
  return `${namespace}/${monitor.metadata.name}`;
}

function chart(set: string[]): K8sObject[] {
  return renderChart(HELMS[0], CHART, [join(EXAMPLES, 'production.yaml')], {
    set: ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', ...set],
  }).objects;
}

const only = (objects: K8sObject[], kind: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} ${kind} objects`);
  return found[0];
};

/** Whether the chart's down alert fires for a target of `job` unreachable for 10 minutes. */
function downFiresFor(objects: K8sObject[], job: string): boolean {
  const groups = ruleGroups(only(objects, 'PrometheusRule'));
  const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === DOWN);
  if (rule === undefined) throw new Error(`no ${DOWN} alert`);
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
            alertname: DOWN,
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
    const r = spawnSync(PROMTOOL as string, ['test', 'rules', 'test.yaml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    if (r.error) throw r.error;
    return r.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describeWithPromtool('the down alert selects every shipped scrape job', () => {
  it.each([
    ['the default names', []],
    ['fullnameOverride', ['fullnameOverride=media-gateway']],
    ['nameOverride', ['nameOverride=gw']],
  ])("the chart's ServiceMonitor, %s", (_names, set) => {
    const objects = chart(set);
    const job = serviceMonitorJob(only(objects, 'ServiceMonitor'), only(objects, 'Service'));
    expect(downFiresFor(objects, job)).toBe(true);
  });

  it("deploy/monitoring's PodMonitor", () => {
    expect(downFiresFor(chart([]), podMonitorJob('media'))).toBe(true);
  });
});
