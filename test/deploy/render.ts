import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { k8sTools } from '../support/k8s-tools';

export const ROOT = join(__dirname, '..', '..');
export const CHART = join(ROOT, 'helm', 'vidispine-auth-proxy');
export const SIDECAR_APP_CHART = join(ROOT, 'helm', 'examples', 'app-with-sidecar');

/** One Helm binary the chart is checked with. */
export interface Helm {
  name: string;
  bin: string;
}

/** Both Helm major versions users run: every chart test runs with each. */
export const HELMS: readonly Helm[] = [
  { name: 'Helm 3', bin: k8sTools().helm3 },
  { name: 'Helm 4', bin: k8sTools().helm4 },
];

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

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

// Helm keeps repositories and plugins under these; a temporary home per test process keeps
// the user's own Helm setup out of the tests and the tests out of it.
let helmHome: string | undefined;
function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= mkdtempSync(join(tmpdir(), 'vap-helm-home-'));
  return {
    ...process.env,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

/** Runs a command; the exit status and output are the caller's to judge. */
export function runTool(command: string, args: readonly string[]): RunResult {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 32 * 1024 * 1024,
    env: helmEnv(),
  });
  if (r.error) throw new Error(`${command}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function run(command: string, args: readonly string[]): string {
  const r = runTool(command, args);
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as unknown;
    })
    .filter((o): o is K8sObject => isRecord(o) && typeof o.kind === 'string');
}

export interface ChartOptions {
  release?: string;
  namespace?: string;
  set?: readonly string[];
}

/** The arguments that give `helm template` / `helm lint` the values a test wants. */
export function valuesArgs(valuesFiles: readonly string[], set: readonly string[] = []): string[] {
  return [...valuesFiles.flatMap((f) => ['--values', f]), ...set.flatMap((s) => ['--set', s])];
}

/** `helm template`, as a user renders before applying. */
export function renderChart(
  helm: Helm,
  chartDir: string,
  valuesFiles: readonly string[] = [],
  options: ChartOptions = {},
): Rendered {
  const text = run(helm.bin, [
    'template',
    options.release ?? 'vap',
    chartDir,
    '--namespace',
    options.namespace ?? 'media',
    ...valuesArgs(valuesFiles, options.set),
  ]);
  return { text, objects: parseManifests(text) };
}

/**
 * `helm template --dry-run=server` against a cluster (a kubeconfig), so `lookup` reads from
 * it as during `helm upgrade`. Asynchronous: the cluster may be served by this process.
 * Helm 4 validates against the server's OpenAPI when it has a cluster; that is switched off.
 */
export function renderChartInCluster(
  helm: Helm,
  chartDir: string,
  kubeconfig: string,
  options: ChartOptions = {},
): Promise<Rendered> {
  const args = [
    'template',
    options.release ?? 'vap',
    chartDir,
    '--namespace',
    options.namespace ?? 'media',
    '--kubeconfig',
    kubeconfig,
    '--dry-run=server',
    '--disable-openapi-validation',
    ...valuesArgs([], options.set),
  ];
  return new Promise((resolve, reject) => {
    execFile(
      helm.bin,
      args,
      { env: helmEnv(), maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${helm.bin} ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve({ text: stdout, objects: parseManifests(stdout) });
      },
    );
  });
}

/**
 * Renders helm/examples/app-with-sidecar as its user would: `helm dependency update` (which
 * packages this chart into the example's charts/), then `helm template`. Both run in a
 * temporary copy of helm/, so the repository stays as it is.
 */
export function renderSidecarApp(helm: Helm): Rendered {
  const dir = mkdtempSync(join(tmpdir(), 'vap-sidecar-app-'));
  try {
    cpSync(join(ROOT, 'helm'), dir, { recursive: true });
    const app = join(dir, relative(join(ROOT, 'helm'), SIDECAR_APP_CHART));
    run(helm.bin, ['dependency', 'update', app]);
    return renderChart(helm, app, [], { release: 'legacy' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The chart README's recipe for an existing chart: an application chart in `dir` that lists
 * this chart as a dependency, gives it `proxyValues` and includes the two sidecar templates
 * into `workload`'s pod spec (under its `initContainers:` and `volumes:`, which it must
 * have), after `helm dependency update`. `dir` must hold a copy of this chart beside it.
 */
export function renderAppWithSidecar(
  helm: Helm,
  dir: string,
  workload: K8sObject,
  proxyValues: Record<string, unknown>,
): Rendered {
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(
    join(dir, 'Chart.yaml'),
    stringify({
      apiVersion: 'v2',
      name: 'shop',
      version: '1.0.0',
      dependencies: [
        {
          name: 'vidispine-auth-proxy',
          version: '0.1.0',
          repository: 'file://../vidispine-auth-proxy',
        },
      ],
    }),
  );
  writeFileSync(join(dir, 'values.yaml'), stringify({ 'vidispine-auth-proxy': proxyValues }));
  // The pod spec's lists: under spec.template.spec of a workload, under spec of a Pod.
  const indent = workload.kind === 'Pod' ? 2 : 6;
  const item = ' '.repeat(indent + 2);
  const include = (name: string): string =>
    `${item}{{- include "vidispine-auth-proxy.${name}" (dict "values" (index .Values "vidispine-auth-proxy") "root" .) | nindent ${indent + 2} }}`;
  const text = stringify(workload)
    .replace(new RegExp(`^( {${indent}}initContainers:\\n)`, 'm'), `$1${include('sidecar')}\n`)
    .replace(new RegExp(`^( {${indent}}volumes:\\n)`, 'm'), `$1${include('sidecarVolumes')}\n`);
  writeFileSync(join(dir, 'templates', 'workload.yaml'), text);
  run(helm.bin, ['dependency', 'update', dir]);
  return renderChart(helm, dir, [], { release: 'shop' });
}

/**
 * NOTES.txt as Helm prints it after an install. `helm template` skips NOTES.txt and
 * `helm install --dry-run` needs a cluster, so a temporary copy of the chart renders it as
 * a named template into a one-key YAML document.
 */
export function renderNotes(
  helm: Helm,
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
    const docs = parseAllDocuments(renderChart(helm, dir, valuesFiles, { set }).text).map(
      (d) => d.toJS() as unknown,
    );
    const notesDoc = docs.find((d) => isRecord(d) && typeof d.notes === 'string');
    return String(at(notesDoc, 'notes'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderKustomization(dir: string): Rendered {
  const text = run(k8sTools().kubectl, ['kustomize', dir]);
  return { text, objects: parseManifests(text) };
}

/**
 * The README's kustomize recipe on `workload`: a kustomization in `dir` (created) that lists
 * it, adds deploy/components/sidecar, names the image and sets the proxy's URL and user.
 */
export function renderWithSidecarComponent(
  dir: string,
  workload: K8sObject,
  options: {
    /** Components listed after deploy/components/sidecar (folder names under deploy/components). */
    readonly more?: readonly string[];
    /** More of the proxy's environment, in its ConfigMap. */
    readonly env?: Readonly<Record<string, string>>;
  } = {},
): Rendered {
  mkdirSync(dir);
  writeFileSync(join(dir, 'workload.yaml'), stringify(workload));
  const component = (name: string): string =>
    relative(dir, join(ROOT, 'deploy', 'components', name));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    stringify({
      resources: ['workload.yaml'],
      components: ['sidecar', ...(options.more ?? [])].map(component),
      images: [
        {
          name: 'vidispine-auth-proxy',
          newName: 'registry.example.com/vidispine-auth-proxy',
          newTag: '0.1.0',
        },
      ],
      patches: [
        {
          patch: stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'vidispine-auth-proxy-sidecar' },
            data: {
              VIDISPINE_URL: 'http://vidispine.media.svc:8080',
              VIDISPINE_USER: 'shop',
              ...options.env,
            },
          }),
        },
      ],
    }),
  );
  return renderKustomization(dir);
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
