/**
 * A small parser for the Prometheus text exposition format (0.0.4), so tests assert on
 * values, types and help texts rather than on the presence of a name.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

export type Exposition = ReadonlyMap<string, MetricFamily>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?$/;
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // Prometheus (Go's ParseFloat) accepts NaN in any case; prom-client writes "Nan".
  if (text.toLowerCase() === 'nan') return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`bad sample value: ${text}`);
  return value;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(block: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const inner = block.slice(1, -1);
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let index = 0;
  while (index < inner.length) {
    pair.lastIndex = index;
    const match = pair.exec(inner);
    if (!match) throw new Error(`bad label set: ${block}`);
    const [, key = '', value = ''] = match;
    if (key in labels) throw new Error(`duplicate label ${key} in ${block}`);
    labels[key] = unescape(value);
    index = pair.lastIndex;
  }
  return labels;
}

function familyOf(families: Map<string, MetricFamily>, sampleName: string): MetricFamily {
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = families.get(sampleName.slice(0, -suffix.length));
    if (base && (base.type === 'histogram' || base.type === 'summary')) return base;
  }
  const own = families.get(sampleName);
  if (own) return own;
  const created: MetricFamily = { name: sampleName, samples: [] };
  families.set(sampleName, created);
  return created;
}

export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    const existing = families.get(name);
    if (existing) return existing;
    const created: MetricFamily = { name, samples: [] };
    families.set(name, created);
    return created;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      if (kind === 'HELP') family(name).help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      else family(name).type = rest;
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`bad exposition line: ${line}`);
    const [, name = '', labelBlock, value = ''] = match;
    familyOf(families, name).samples.push({
      name,
      labels: labelBlock ? parseLabels(labelBlock) : {},
      value: parseValue(value),
    });
  }
  return families;
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
}

/** All samples named `name` (a sample name, e.g. `x_bucket`) whose labels include `labels`. */
export function samples(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return [...exposition.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && matches(s, labels));
}

/** The value of the one sample with exactly these labels (or undefined when absent). */
export function value(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples(exposition, name, labels).filter(
    (s) => Object.keys(s.labels).length === Object.keys(labels).length,
  );
  if (found.length > 1)
    throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
