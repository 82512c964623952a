/**
 * The JSONPatch (RFC 6902) that adds the sidecar to a pod: pure functions of the pod and
 * what it asked for. Operations are ordered so that each index is valid when it is
 * applied (env changes to init containers come before the sidecar shifts them by one).
 */
import { LRUCache } from 'lru-cache';
import { ANNOTATIONS, INJECTED, METRICS_LABEL, STATUS_ANNOTATION } from './annotations';
import type { Pod, PodContainer } from './k8s';
import { firstAfterSidecar, MESH_CONTAINERS, sidecarIndex, sidecarMove } from './placement';
import { type AnnotationProblem, shown } from './problems';
import type { PodRequest } from './request';
import {
  CA_VOLUME_NAME,
  CONTAINER_NAME,
  OPS_PORT_NAME,
  proxyApiUrl,
  sidecarContainer,
  type SidecarNames,
  sidecarVolumes,
  VOLUME_NAME,
} from './sidecar';

export type PatchOperation =
  | {
      readonly op: 'add';
      readonly path: string;
      /** A `JsonText` here (not inside another value) is written as it is. */
      readonly value: unknown;
    }
  | { readonly op: 'move'; readonly from: string; readonly path: string }
  | { readonly op: 'remove'; readonly path: string };

/** A value already serialised as JSON. */
class JsonText {
  constructor(readonly text: string) {}
}

/** The patch as JSON text: what `JSON.stringify` writes, with each `JsonText` value in place. */
export function patchText(patch: readonly PatchOperation[]): string {
  let text = '';
  for (const operation of patch) {
    const { op, path } = operation;
    const rest =
      op === 'remove'
        ? ''
        : op === 'move'
          ? `,"from":${JSON.stringify(operation.from)}`
          : `,"value":${operation.value instanceof JsonText ? operation.value.text : JSON.stringify(operation.value)}`;
    text += `${text === '' ? '[' : ','}{"op":"${op}","path":${JSON.stringify(path)}${rest}}`;
  }
  return `${text}]`;
}

/**
 * The sidecar container's JSON by its settings and names. Pods ask for few different ones
 * (a rollout's pods are alike), and serialising the container was the largest cost of a
 * review after parsing it. The key is the inputs' own JSON, so settings that differ in any
 * field never share an entry.
 */
const containerTexts = new LRUCache<string, JsonText>({ max: 256 });

/**
 * The container found last, by its inputs. The pods of a rollout come one after another
 * asking for the same container, and comparing their inputs with the last ones costs a third
 * of writing the key, which the LRU then hashes anew (2 µs a review between them).
 */
let last: { readonly inputs: readonly [unknown, unknown]; readonly text: JsonText } | undefined;

/**
 * Whether two values of JSON data (plain objects, arrays, primitives) are written as the same
 * JSON: equal primitives, or objects with the same keys in the same order holding the same
 * values. Where JSON would write two values alike that are not (NaN and null, a key holding
 * undefined and no key), they compare as different: a miss, never a wrong hit.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  const others = Object.keys(b);
  if (keys.length !== others.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key !== others[i]) return false;
    if (!sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
      return false;
  }
  return true;
}

function sidecarContainerText(settings: PodRequest['settings'], names: SidecarNames): JsonText {
  if (last && sameJson(last.inputs[0], settings) && sameJson(last.inputs[1], names))
    return last.text;
  const key = JSON.stringify([settings, names]);
  let text = containerTexts.get(key);
  if (text === undefined) {
    text = new JsonText(JSON.stringify(sidecarContainer(settings, names)));
    containerTexts.set(key, text);
  }
  last = { inputs: [settings, names], text };
  return text;
}

const ESCAPED = /[~/]/;

/** A JSON Pointer segment: `~` and `/` escaped (RFC 6901); most segments have neither. */
const escaped = (segment: string | number): string =>
  typeof segment === 'number' || !ESCAPED.test(segment)
    ? String(segment)
    : segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** A JSON Pointer (RFC 6901) from its segments. */
function pointer(...segments: readonly (string | number)[]): string {
  let path = '';
  for (const segment of segments) path += `/${escaped(segment)}`;
  return path;
}

/** Whether the pod already runs the proxy (injected, or added by the chart or the component). */
export function hasSidecar(pod: Pod): boolean {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some(
    (c) => c.name === CONTAINER_NAME,
  );
}

/** Whether this webhook injected the pod's sidecar (its status annotation). */
export function injectedByUs(pod: Pod): boolean {
  return pod.metadata?.annotations?.[STATUS_ANNOTATION] === INJECTED;
}

/** `base`, or `base-2`, `base-3` … : the first that is not taken. */
function freeName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Names for the sidecar's volume and ops port that none of the pod's own use. */
function sidecarNames(pod: Pod): SidecarNames {
  const volumes = new Set<string>();
  for (const v of pod.spec.volumes ?? []) volumes.add(v.name);
  const ports = new Set<string>();
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const p of c.ports ?? []) if (p.name) ports.add(p.name);
  }
  return {
    volume: freeName(VOLUME_NAME, volumes),
    caVolume: freeName(CA_VOLUME_NAME, volumes),
    opsPort: freeName(OPS_PORT_NAME, ports),
  };
}

type EnvEntry = NonNullable<PodContainer['env']>[number];

/** The env variable the webhook sets: `vidispine-auth-proxy/env` naming the proxy's URL. */
interface ProxyEnv {
  readonly name: string;
  readonly value: string;
}

/** The variable the pod asked for (`vidispine-auth-proxy/env`); undefined when it asked for none. */
function proxyEnv(request: PodRequest): ProxyEnv | undefined {
  return request.envName === undefined
    ? undefined
    : { name: request.envName, value: proxyApiUrl(request.settings) };
}

/** Whether `e` is `entry` as the webhook writes it (a variable of the app's own may share its name). */
const isEntry = (e: EnvEntry, entry: ProxyEnv): boolean =>
  e.name === entry.name && e.value === entry.value && e.valueFrom === undefined;

/** A container that gets the env variable, and the pointer to it. */
interface EnvReceiver {
  readonly container: PodContainer;
  readonly at: string;
  readonly init: boolean;
}

/**
 * The containers the env variable goes to: every app container, and every init container
 * that starts after the proxy (one before it runs before the proxy listens), but the proxy
 * and a service mesh's.
 */
function envReceivers(pod: Pod, request: PodRequest): EnvReceiver[] {
  const receivers: EnvReceiver[] = [];
  const add = (
    list: readonly PodContainer[],
    field: 'containers' | 'initContainers',
    first: number,
  ): void =>
    list.forEach((container, i) => {
      if (i >= first && container.name !== CONTAINER_NAME && !MESH_CONTAINERS.has(container.name))
        receivers.push({
          container,
          at: pointer('spec', field, i),
          init: field === 'initContainers',
        });
    });
  const init = pod.spec.initContainers ?? [];
  add(init, 'initContainers', firstAfterSidecar(init, request.startAfter));
  // The app's containers start after every init container, the proxy included.
  add(pod.spec.containers, 'containers', 0);
  return receivers;
}

/**
 * The containers that set the env variable the pod asked for themselves, each a problem.
 * Setting it there would change the app's own setting without a word (replaced, or shadowed
 * by an entry after it, as Kubernetes takes the last of a name), and keeping the app's would
 * leave the annotation unheeded: the pod's two answers are for its owner to pick. The value is
 * never quoted: an env value may hold anything, a credential included.
 */
export function envClashes(pod: Pod, request: PodRequest): AnnotationProblem[] {
  const entry = proxyEnv(request);
  if (entry === undefined) return [];
  return envReceivers(pod, request)
    .filter(({ container }) =>
      (container.env ?? []).some((e) => e.name === entry.name && !isEntry(e, entry)),
    )
    .map(({ container, init }) => ({
      annotation: ANNOTATIONS.env.name,
      problem: `${init ? 'init container' : 'container'} ${shown(container.name)} sets ${entry.name} itself, which the webhook would change to the proxy's URL (${entry.value}): remove it there to point that container at the proxy, or set ${ANNOTATIONS.env.name} to a variable the pod does not set`,
    }));
}

/**
 * The env variable the pod asked for, first in each container that gets it and has none of
 * that name yet; a container whose variable of that name is already the proxy's URL is left
 * as it is (`envClashes` denies one of the pod's own). First: Kubernetes expands `$(NAME)` in
 * an env value only from the variables before it, and the app's own may be written from it
 * (`$(VIDISPINE_API)/item`). Empty when none was asked.
 */
export function appEnvPatch(pod: Pod, request: PodRequest): PatchOperation[] {
  const entry = proxyEnv(request);
  if (entry === undefined) return [];
  const operations: PatchOperation[] = [];
  for (const { container, at } of envReceivers(pod, request)) {
    const env = container.env ?? [];
    if (env.length === 0) operations.push({ op: 'add', path: `${at}/env`, value: [entry] });
    else if (!env.some((e) => e.name === entry.name))
      operations.push({ op: 'add', path: `${at}/env/0`, value: entry });
  }
  return operations;
}

type Metadata = NonNullable<Pod['metadata']>;

/** Sets `key` in one of the metadata maps; `keep` leaves a value the pod set itself. */
function mapEntry(
  metadata: Metadata,
  field: 'labels' | 'annotations',
  [key, value]: readonly [string, string],
  keep: boolean,
): PatchOperation[] {
  const map = metadata[field];
  if (!map) return [{ op: 'add', path: pointer('metadata', field), value: { [key]: value } }];
  if (map[key] === value || (keep && key in map)) return [];
  return [{ op: 'add', path: pointer('metadata', field, key), value }];
}

/** The status annotation, and the label deploy/monitoring's PodMonitor selects. */
function metadataPatch(pod: Pod): PatchOperation[] {
  const label = [METRICS_LABEL, 'true'] as const;
  const status = [STATUS_ANNOTATION, INJECTED] as const;
  if (!pod.metadata) {
    return [
      {
        op: 'add',
        path: '/metadata',
        value: { labels: Object.fromEntries([label]), annotations: Object.fromEntries([status]) },
      },
    ];
  }
  return [
    ...mapEntry(pod.metadata, 'labels', label, true),
    ...mapEntry(pod.metadata, 'annotations', status, false),
  ];
}

/** The webhook's pull secrets that the pod does not list yet, after its own. */
function pullSecretsPatch(pod: Pod, names: readonly string[]): PatchOperation[] {
  const listed = pod.spec.imagePullSecrets ?? [];
  const missing = names.filter((name) => !listed.some((r) => r.name === name));
  if (missing.length === 0) return [];
  const refs = missing.map((name) => ({ name }));
  return listed.length === 0
    ? [{ op: 'add', path: '/spec/imagePullSecrets', value: refs }]
    : refs.map((value) => ({ op: 'add', path: '/spec/imagePullSecrets/-', value }));
}

/** Everything a pod that asked for the proxy and does not have it yet needs. */
export function injectionPatch(pod: Pod, request: PodRequest): PatchOperation[] {
  const names = sidecarNames(pod);
  const container = sidecarContainerText(request.settings, names);
  const added = sidecarVolumes(request.settings, names);
  const init = pod.spec.initContainers ?? [];
  const volumes = pod.spec.volumes ?? [];
  return [
    ...appEnvPatch(pod, request),
    init.length === 0
      ? { op: 'add', path: '/spec/initContainers', value: new JsonText(`[${container.text}]`) }
      : {
          op: 'add',
          path: pointer('spec', 'initContainers', sidecarIndex(init, request.startAfter)),
          value: container,
        },
    ...(volumes.length === 0
      ? [{ op: 'add', path: '/spec/volumes', value: added } as const]
      : added.map((value) => ({ op: 'add', path: '/spec/volumes/-', value }) as const)),
    ...pullSecretsPatch(pod, request.imagePullSecrets),
    ...metadataPatch(pod),
  ];
}

/**
 * Takes `entry` out of one container's env (at `container`, its pointer) wherever it stands
 * as the webhook wrote it, the whole `env` where nothing else is left. From the last index
 * down, so that each removal leaves the indices of those still to come in place.
 */
function envRemovals(
  env: readonly EnvEntry[],
  container: string,
  entry: ProxyEnv,
): PatchOperation[] {
  const operations: PatchOperation[] = [];
  for (let j = env.length - 1; j >= 0; j--)
    if (isEntry(env[j] as EnvEntry, entry))
      operations.push({ op: 'remove', path: `${container}/env/${j}` });
  if (operations.length > 0 && operations.length === env.length)
    return [{ op: 'remove', path: `${container}/env` }];
  return operations;
}

/**
 * The sidecar this webhook injected, moved right after a mesh's proxy (or a container named
 * by the pod) that another webhook added after it since; empty where it stands right. The
 * init containers the move puts ahead of it stood after it, where the webhook may have pointed
 * them at the proxy, which now starts after them and refuses their every call: the variable
 * it set there goes, a variable of the pod's own of that name stays. After the env
 * operations, whose paths are the pod's indices as they were.
 */
export function placementPatch(pod: Pod, request: PodRequest): PatchOperation[] {
  const init = pod.spec.initContainers ?? [];
  const move = sidecarMove(init, request.startAfter);
  if (!move) return [];
  const entry = proxyEnv(request);
  const removals: PatchOperation[] = [];
  // `move.to` counts without the sidecar: the pod's indices past it up to `to` go ahead of it.
  for (let i = move.from + 1; entry !== undefined && i <= move.to; i++) {
    const c = init[i] as PodContainer;
    // A mesh's containers never got it: one of the mesh's own is left as the mesh wrote it.
    if (!MESH_CONTAINERS.has(c.name))
      removals.push(...envRemovals(c.env ?? [], pointer('spec', 'initContainers', i), entry));
  }
  const from = pointer('spec', 'initContainers', move.from);
  return [...removals, { op: 'move', from, path: pointer('spec', 'initContainers', move.to) }];
}
