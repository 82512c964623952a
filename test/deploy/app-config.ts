import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { loadConfig } from '../../src/config/load';
import { secretFiles } from '../../src/config/secret-files';
import type { ProxyConfig } from '../../src/config/types';
import { ProxyContainer, proxyContainers } from './checks';
import { SECRET_FILE_KEYS } from './contract';
import { K8sObject, at, records } from './render';

/** The CA bundle a YAML configuration names (vidispine.caFile). */
const CA_FILE_KEY = /\bcaFile:\s*(\S+)/;

interface Loaded {
  where: string;
  grace: unknown;
  /** A native sidecar is stopped after the app's containers: the grace period is the app's. */
  sidecar: boolean;
  config?: ProxyConfig;
  problem?: string;
}

/** Mount paths of the Secret (and ConfigMap) volumes the proxy container mounts. */
function secretMountPaths(p: ProxyContainer): string[] {
  const secretVolumes = new Set(
    records(p.spec.volumes)
      .filter((v) => at(v, 'secret') !== undefined || at(v, 'configMap') !== undefined)
      .map((v) => v.name),
  );
  return records(p.container.volumeMounts)
    .filter((m) => secretVolumes.has(m.name))
    .map((m) => String(m.mountPath));
}

/**
 * Loads a proxy container's configuration with the proxy's own loader, from the env values
 * and the mounted YAML file the manifest gives it, then reads the secret files it names, as
 * the proxy does before it starts. Each Secret mount is stood in for by a temporary folder
 * holding a file for every path the configuration names inside it; a path outside every
 * Secret mount stays missing and is reported.
 */
function load(p: ProxyContainer): Loaded {
  const grace = p.spec.terminationGracePeriodSeconds;
  const sidecar = p.sidecar;
  const dir = mkdtempSync(join(tmpdir(), 'vap-config-'));
  try {
    const mounts = secretMountPaths(p);
    const relocate = (text: string): string =>
      mounts.reduce((t, m) => t.split(`${m}/`).join(`${join(dir, m)}/`), text);
    const env: NodeJS.ProcessEnv = {};
    for (const [name, e] of p.env) if (typeof e.value === 'string') env[name] = relocate(e.value);
    const configText = p.configText === undefined ? undefined : relocate(p.configText);
    const caFiles = [env.VIDISPINE_CA_FILE, CA_FILE_KEY.exec(configText ?? '')?.[1]];
    const referenced = [
      ...Object.entries(env).flatMap(([k, v]) => (k.endsWith('_FILE') && v ? [v] : [])),
      ...[...(configText ?? '').matchAll(SECRET_FILE_KEYS)].map((m) => String(m[1])),
      ...caFiles.flatMap((f) => (f ? [f] : [])),
    ];
    for (const file of referenced.filter((f) => f.startsWith(`${dir}/`))) {
      mkdirSync(dirname(file), { recursive: true });
      // The loader parses a CA bundle: any real certificate stands in for it.
      writeFileSync(file, caFiles.includes(file) ? rootCertificates[0] : 'not-a-real-password');
    }
    let file: string | undefined;
    if (configText !== undefined) {
      file = join(dir, 'config.yaml');
      writeFileSync(file, configText);
    }
    const config = loadConfig({ file, env });
    // The proxy reads them asynchronously, bounded by the mint timeout; these are local
    // temporary files, so a plain read answers the same question: is the file there?
    for (const { path, setting } of secretFiles(config)) {
      try {
        readFileSync(path);
      } catch (err) {
        throw new Error(`${setting ?? 'configuration'}: ${(err as Error).message}`);
      }
    }
    return { where: p.where, grace, sidecar, config };
  } catch (err) {
    return {
      where: p.where,
      grace,
      sidecar,
      problem: err instanceof Error ? err.message : String(err),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function appConfigs(objects: readonly K8sObject[]): Loaded[] {
  return proxyContainers(objects).map(load);
}

/**
 * Configurations the proxy would reject (exit 2), grace periods its shutdown outlasts, and
 * sidecars that wait out a shutdown delay.
 */
export function appConfigProblems(objects: readonly K8sObject[]): string[] {
  return appConfigs(objects).flatMap(({ where, config, problem, grace, sidecar }) => {
    if (problem !== undefined) return [`${where}: the proxy rejects its configuration: ${problem}`];
    if (config === undefined) return [];
    // Kubernetes stops a native sidecar after the app's containers: no one is left to send
    // it requests, so serving on through the delay only holds the pod's termination up.
    if (sidecar)
      return config.shutdown.delaySeconds === 0
        ? []
        : [`${where}: a sidecar serves on ${config.shutdown.delaySeconds} s after SIGTERM`];
    const needed = config.shutdown.delaySeconds + config.shutdown.drainSeconds;
    return typeof grace === 'number' && grace > needed
      ? []
      : [
          `${where}: terminationGracePeriodSeconds ${String(grace)} does not exceed shutdown's ${needed} s`,
        ];
  });
}
