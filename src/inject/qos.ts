/**
 * Whether the proxy takes a Guaranteed pod's QoS class away. Kubernetes makes a pod
 * Guaranteed only when every container, init containers and native sidecars included, has
 * cpu and memory limits and requests equal to them; the proxy's defaults (a small request
 * under a larger limit) make such a pod Burstable, which loses exclusive CPUs under the
 * static CPU manager and is evicted before Guaranteed pods. The webhook warns and leaves the
 * proxy as the pod asked: it does not raise the proxy's requests to its limits by itself, as
 * that reserves more of every node for every such pod than the operator configured, and
 * Istio, whose sidecar does the same to a Guaranteed pod, leaves it to annotations too. The
 * resource annotations keep the pod Guaranteed in one step, and the warning names them.
 */
import type { Resources } from '../config/injector';
import { nanoUnits } from '../config/quantity';
import { ANNOTATIONS, PREFIX } from './annotations';
import type { Pod, PodResources } from './k8s';
import { CONTAINER_NAME } from './sidecar';

const QOS_RESOURCES = ['cpu', 'memory'] as const;
type QosResource = (typeof QOS_RESOURCES)[number];

/**
 * The quantity exactly (nano units) when it is one above zero (Kubernetes ignores zero), else
 * undefined: "700m" and "0.7" compare equal, as they do to Kubernetes.
 */
function positive(text: string | undefined): bigint | undefined {
  const value = text === undefined ? undefined : nanoUnits(text);
  return value !== undefined && value > 0n ? value : undefined;
}

/**
 * Whether `resource` is Guaranteed in a container: a limit, and a request equal to it, or
 * none (the API server defaults a request to its limit before any webhook sees the pod).
 */
function guaranteedIn(resources: PodResources | null | undefined, resource: QosResource): boolean {
  const limit = positive(resources?.limits?.[resource] ?? undefined);
  if (limit === undefined) return false;
  const requestText = resources?.requests?.[resource];
  if (requestText === undefined || requestText === null) return true;
  return positive(requestText) === limit;
}

const guaranteed = (resources: PodResources | null | undefined): boolean =>
  QOS_RESOURCES.every((resource) => guaranteedIn(resources, resource));

/**
 * Whether the pod, without the proxy, is Guaranteed by its containers' resources. A pod with
 * resources of its own (`spec.resources`) is classed by those alone, which the proxy does not
 * change: it is left out.
 */
function guaranteedWithoutProxy(pod: Pod): boolean {
  const own = pod.spec.resources;
  if (own?.requests || own?.limits) return false;
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter(
    (c) => c.name !== CONTAINER_NAME,
  );
  return containers.every((c) => guaranteed(c.resources));
}

/** The annotations by what follows the prefix: the warning spells the prefix out once. */
const NAMES = {
  cpu: { request: ANNOTATIONS.cpuRequest.suffix, limit: ANNOTATIONS.cpuLimit.suffix },
  memory: { request: ANNOTATIONS.memoryRequest.suffix, limit: ANNOTATIONS.memoryLimit.suffix },
} as const;

/**
 * What to set for `resource` to be Guaranteed in the proxy: its request to its limit, or a
 * limit to its request, or, with neither configured, the two to one value (`a=b`: short
 * enough for both resources to fit in 120 characters).
 */
function toSet(proxy: Resources, resource: QosResource): string | undefined {
  if (guaranteedIn(proxy, resource)) return undefined;
  const limit = proxy.limits?.[resource];
  const request = proxy.requests?.[resource];
  const { request: requestName, limit: limitName } = NAMES[resource];
  if (limit !== undefined) return `${requestName}: ${limit}`;
  if (request !== undefined && positive(request) !== undefined) return `${limitName}: ${request}`;
  return `${requestName}=${limitName}`;
}

/**
 * The warning for a Guaranteed pod the proxy's `resources` would make Burstable: the
 * annotations to set and their values, the first named in full and the others by what follows
 * the shared prefix, within the 120 characters Kubernetes asks of a warning. None otherwise.
 */
export function qosWarnings(pod: Pod, proxy: Resources): string[] {
  if (!guaranteedWithoutProxy(pod)) return [];
  const settings = QOS_RESOURCES.map((r) => toSet(proxy, r)).filter(
    (s): s is string => s !== undefined,
  );
  if (settings.length === 0) return [];
  return [`Guaranteed pod made Burstable by sidecar: set ${PREFIX}${settings.join(', ')}`];
}
