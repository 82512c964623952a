import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { METRIC_LABELS, METRIC_PREFIX } from './contract';
import { ROOT, at, records } from './render';

// The README's alert list is what users read; the PrometheusRule is what they run.
describe("README's alerts", () => {
  it('are the shipped PrometheusRule: names, for, severity and expressions', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('Alerts, as shipped in'));
    const block = /```promql\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const documented = block
      .split(/^# /m)
      .filter((part) => part.trim() !== '')
      .map((part) => {
        const [head = '', ...expr] = part.split('\n');
        const m = /^(\w+) \(for: (\w+), (\w+)\)/.exec(head);
        return { alert: m?.[1], for: m?.[2], severity: m?.[3], expr: expr.join('\n').trim() };
      });
    const rule = parseYaml(
      readFileSync(join(ROOT, 'deploy', 'monitoring', 'prometheusrule.yaml'), 'utf8'),
    ) as unknown;
    // The proxy's alerts, then the webhook's.
    const shipped = records(at(rule, 'spec', 'groups'))
      .flatMap((g) => records(g.rules))
      .map((r) => ({
        alert: r.alert,
        for: r.for,
        severity: at(r, 'labels', 'severity'),
        expr: String(r.expr).trim(),
      }));
    expect(shipped.length).toBeGreaterThan(0);
    expect(documented).toEqual(shipped);
  });
});

describe("README's metrics table", () => {
  it('names every metric of the contract with exactly its labels', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('### Metrics'),
      readme.indexOf('Alerts, as shipped in'),
    );
    const documented = Object.fromEntries(
      [...section.matchAll(/^\| `(\w+)(?:\{([\w,]*)\})?` \|/gm)].map(([, name = '', labels]) => [
        METRIC_PREFIX + name,
        labels === undefined ? [] : labels.split(','),
      ]),
    );
    expect(documented).toMatchObject(METRIC_LABELS);
  });
});
