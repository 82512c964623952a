/** A rendered proxy container run on this machine, as the kubelet would start it. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChildProxy } from '../support/child-proxy';
import type { ProxyContainer } from './checks';
import { records } from './render';

export interface ContainerRun {
  /** By variable (`VIDISPINE_PASSWORD_FILE`): the text of the file it names, if any. */
  readonly files?: Readonly<Record<string, string | undefined>>;
  /** By its path in the container: the text of a file of a mount (a YAML config's secrets). */
  readonly mounted?: Readonly<Record<string, string>>;
  /** Variables this machine needs in place of the rendered ones (Vidispine's URL). */
  readonly env?: Readonly<Record<string, string>>;
  /** The user, group and network namespace it runs in. */
  readonly as?: { uid?: number; gid?: number; netns?: string };
}

/**
 * Runs the proxy from `proxy`'s environment as rendered, each of its mounts a folder of 0444
 * files owned by root under `dir`, as the kubelet makes them. Resolves once it has tried its
 * first token.
 */
export async function runContainer(
  proxy: ProxyContainer,
  dir: string,
  run: ContainerRun = {},
): Promise<ChildProxy> {
  const folders = new Map<string, string>();
  for (const { mountPath } of records(proxy.container.volumeMounts)) {
    const folder = mkdtempSync(join(dir, 'mount-'));
    chmodSync(folder, 0o755);
    folders.set(String(mountPath), folder);
  }
  const local = (value: string): string =>
    [...folders].reduce((v, [mount, folder]) => v.replaceAll(`${mount}/`, `${folder}/`), value);
  for (const [name, text] of Object.entries(run.files ?? {})) {
    const file = proxy.env.get(name)?.value;
    if (typeof file === 'string' && text !== undefined)
      writeFileSync(local(file), text, { mode: 0o444 });
  }
  for (const [file, text] of Object.entries(run.mounted ?? {}))
    writeFileSync(local(file), text, { mode: 0o444 });
  // The YAML configuration from its ConfigMap, the files it names where they are mounted here.
  const configFile = proxy.env.get('CONFIG_FILE')?.value;
  if (typeof configFile === 'string' && proxy.configText !== undefined)
    writeFileSync(local(configFile), local(proxy.configText), { mode: 0o444 });
  const env = Object.fromEntries(
    [...proxy.env.values()].map((e) => [String(e.name), local(String(e.value))]),
  );
  // A gateway's delay waits for endpoints that no Service here has; a sidecar stops as
  // rendered.
  const child = ChildProxy.start(
    ['run'],
    { ...env, ...run.env, ...(proxy.sidecar ? {} : { SHUTDOWN_DELAY_SECONDS: '0' }) },
    [],
    run.as,
  );
  try {
    await child.waitFor((l) => l.event === 'token_minted' || l.event === 'token_mint_failed');
  } catch (err) {
    // One that never got so far must not outlive the test, nor keep the run from ending.
    await stopped(child);
    throw err;
  }
  return child;
}

export async function stopped(child: ChildProxy): Promise<void> {
  child.kill('SIGTERM');
  await child.exited;
}
