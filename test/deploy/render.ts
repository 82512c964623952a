import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';

export const ROOT = join(__dirname, '..', '..');
export const CHART = join(ROOT, 'helm', 'vidispine-auth-proxy');
export const SIDECAR_APP_CHART = join(ROOT, 'helm', 'examples', 'app-with-sidecar');
export const HELM_TEMPLATE =
  process.env.HELM_TEMPLATE ??
  join(ROOT, '..', 'shared', 'tools', 'helm-template', 'helm-template');

/** A rendered Kubernetes object; fields are read through the narrowing helpers below. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface Rendered {
  /** What the renderer printed: the manifests as a user would apply them. */
  text: string;
  objects: K8sObject[];
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (r.error) throw new Error(`${command}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as unknown;
    })
    .filter((o): o is K8sObject => isRecord(o) && typeof o.kind === 'string');
}

export function renderChart(
  chartDir: string,
  valuesFiles: readonly string[] = [],
  options: { release?: string; namespace?: string; set?: readonly string[] } = {},
): Rendered {
  const args = [
    chartDir,
    '--release',
    options.release ?? 'vap',
    '--namespace',
    options.namespace ?? 'media',
  ];
  for (const f of valuesFiles) args.push('--values', f);
  for (const s of options.set ?? []) args.push('--set', s);
  const text = run(HELM_TEMPLATE, args);
  return { text, objects: parseManifests(text) };
}

/**
 * Renders helm/examples/app-with-sidecar as Helm would with this chart as its dependency:
 * the dependency's named templates are visible to the app's templates, and the app's
 * `.Values["vidispine-auth-proxy"]` holds this chart's defaults overlaid with the app's.
 * (helm-template has no subchart support, so the chart is assembled in a temporary copy.)
 */
export function renderSidecarApp(): Rendered {
  const dir = mkdtempSync(join(tmpdir(), 'vap-sidecar-app-'));
  try {
    cpSync(SIDECAR_APP_CHART, dir, { recursive: true });
    for (const f of readdirSync(join(CHART, 'templates')).filter((n) => n.startsWith('_'))) {
      cpSync(join(CHART, 'templates', f), join(dir, 'templates', `_vidispine-auth-proxy${f}`));
    }
    const defaults = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as unknown;
    writeFileSync(join(dir, 'values.yaml'), stringify({ 'vidispine-auth-proxy': defaults }));
    return renderChart(dir, [join(SIDECAR_APP_CHART, 'values.yaml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * NOTES.txt as Helm prints it after an install. helm-template skips NOTES.txt, so a
 * temporary copy of the chart renders it as a named template into a one-key YAML document.
 */
export function renderNotes(
  valuesFiles: readonly string[] = [],
  set: readonly string[] = [],
): string {
  const dir = mkdtempSync(join(tmpdir(), 'vap-notes-'));
  try {
    cpSync(CHART, dir, { recursive: true });
    const notes = readFileSync(join(CHART, 'templates', 'NOTES.txt'), 'utf8');
    writeFileSync(
      join(dir, 'templates', '_notes-check.tpl'),
      `{{- define "notes-check" -}}\n${notes}{{- end -}}\n`,
    );
    writeFileSync(
      join(dir, 'templates', 'notes-check.yaml'),
      'notes: {{ include "notes-check" . | toJson }}\n',
    );
    const docs = parseAllDocuments(renderChart(dir, valuesFiles, { set }).text).map(
      (d) => d.toJS() as unknown,
    );
    const notesDoc = docs.find((d) => isRecord(d) && typeof d.notes === 'string');
    return String(at(notesDoc, 'notes'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderKustomization(dir: string): Rendered {
  const text = run(process.env.KUBECTL ?? 'kubectl', ['kustomize', dir]);
  return { text, objects: parseManifests(text) };
}

/**
 * Validates objects against the Kubernetes schemas of `kubernetes-models` (and the
 * Prometheus Operator CRDs). Those packages are ES modules only, so a plain node child
 * process loads them. Returns one line per problem; empty when all are valid.
 */
export function schemaProblems(objects: readonly K8sObject[]): string[] {
  const r = spawnSync(process.execPath, [join(__dirname, 'validate-models.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    cwd: ROOT,
  });
  if (r.status !== 0) throw new Error(`validate-models.mjs exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Follows a path of keys/indexes; undefined where the path does not exist. */
export function at(v: unknown, ...path: (string | number)[]): unknown {
  let cur = v;
  for (const key of path) {
    if (typeof key === 'number') cur = Array.isArray(cur) ? (cur[key] as unknown) : undefined;
    else cur = isRecord(cur) ? cur[key] : undefined;
  }
  return cur;
}

export function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

export function byKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}
