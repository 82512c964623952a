/**
 * Where the sidecar stands among the pod's init containers. Kubernetes starts them in order
 * and a native sidecar's startup probe holds back the next, so the proxy starts before the
 * app's init containers. A service mesh whose proxy is a native sidecar too (Istio, Linkerd)
 * captures the pod's traffic before it runs (its CNI, or its init container placed just
 * before it): a proxy started ahead of the mesh's proxy has its first mint redirected to one
 * that is not running yet, never passes its startup probe, and the pod never starts. So the
 * proxy goes right after the mesh's proxy, which both meshes put after their own init
 * containers at the head of the list.
 */
import type { PodContainer } from './k8s';
import { CONTAINER_NAME } from './sidecar';

export const ISTIO_PROXY = 'istio-proxy';

/** The meshes' proxies: Istio's and Linkerd's. */
const MESH_PROXIES: ReadonlySet<string> = new Set([ISTIO_PROXY, 'linkerd-proxy']);

/** Every container the meshes inject: theirs, never the app's, and left as they wrote them. */
export const MESH_CONTAINERS: ReadonlySet<string> = new Set([
  'istio-init',
  'istio-validation',
  'linkerd-init',
  'linkerd-network-validator',
  ...MESH_PROXIES,
]);

/** No containers named by the pod (`vidispine-auth-proxy/start-after` not set). */
export const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * Whether the proxy must start after `c`: one the pod names (`vidispine-auth-proxy/start-after`)
 * or a mesh's proxy that runs as a native sidecar. A mesh proxy that is a regular container
 * starts after every init container whatever their order; the mesh then places its capturing
 * init container last (Istio's istio-init, Linkerd's linkerd-init), so the proxy, first,
 * mints before the capture.
 */
const precedes = (c: PodContainer, named: ReadonlySet<string>): boolean =>
  named.has(c.name) || (MESH_PROXIES.has(c.name) && c.restartPolicy === 'Always');

/** Where a new sidecar goes in `init` (the pod's init containers, without one): right after the last it must follow. */
export function sidecarIndex(init: readonly PodContainer[], named: ReadonlySet<string>): number {
  for (let i = init.length - 1; i >= 0; i--)
    if (precedes(init[i] as PodContainer, named)) return i + 1;
  return 0;
}

/** A JSONPatch move within `initContainers`: `to` is the index once the sidecar is taken out. */
export interface SidecarMove {
  readonly from: number;
  readonly to: number;
}

/**
 * Where the pod's sidecar must move when a container it must follow stands after it (another
 * webhook added one since); undefined when it is where it belongs, which leaves a pod the
 * webhook placed, or moved once, as it is.
 */
export function sidecarMove(
  init: readonly PodContainer[],
  named: ReadonlySet<string>,
): SidecarMove | undefined {
  const from = init.findIndex((c) => c.name === CONTAINER_NAME);
  if (from < 0) return undefined;
  const to = sidecarIndex(
    init.filter((_, i) => i !== from),
    named,
  );
  return to > from ? { from, to } : undefined;
}

/**
 * Where the sidecar stands among the other init containers of `init` (the pod's, the sidecar
 * among them or not yet) once it is where it belongs: where a new one goes, or where it is
 * unless it must move later (a container another webhook put before it stays there).
 */
export function sidecarPlace(init: readonly PodContainer[], named: ReadonlySet<string>): number {
  const at = init.findIndex((c) => c.name === CONTAINER_NAME);
  if (at < 0) return sidecarIndex(init, named);
  return sidecarMove(init, named)?.to ?? at;
}

/**
 * Where, in `init` (the pod's init containers as they are, the sidecar among them or not yet),
 * the containers that start after the sidecar begin once it stands where it belongs: those
 * before it run before it starts, and cannot reach it.
 */
export function firstAfterSidecar(
  init: readonly PodContainer[],
  named: ReadonlySet<string>,
): number {
  const at = sidecarPlace(init, named);
  // `at` counts without the sidecar, which stands before them where it is in `init`.
  return init.some((c) => c.name === CONTAINER_NAME) ? at + 1 : at;
}
