/**
 * A pod's own resources (`spec.resources`, Kubernetes >= 1.34 by default): the API server
 * refuses a pod whose containers request more CPU or memory in all than the pod does
 * ("must be greater than or equal to aggregate container requests"), and it checks the pod
 * as the webhooks left it. A proxy whose requests tip the sum over would have every pod of
 * the workload refused with a message that never names the proxy; the webhook names the pod
 * field, the annotation and the figures instead.
 */
import type { Resources } from '../config/injector';
import { parseQuantity } from '../config/quantity';
import { ANNOTATIONS, type AnnotationDoc } from './annotations';
import type { Pod, PodContainer, PodResources } from './k8s';
import { sidecarPlace } from './placement';
import { type AnnotationProblem, visible } from './problems';
import { CONTAINER_NAME } from './sidecar';

/** The resources the proxy requests, each with the annotation that sets its request. */
const BUDGETED = [
  ['cpu', ANNOTATIONS.cpuRequest],
  ['memory', ANNOTATIONS.memoryRequest],
] as const satisfies readonly (readonly [string, AnnotationDoc])[];

type Budgeted = (typeof BUDGETED)[number][0];

/**
 * Whole units the sums stay exact in: nanocores (the finest a CPU quantity goes) and
 * millibytes, since the API server writes a fraction of a Gi as one ("1.1Gi" is
 * 1181116006400m) and sums it exactly: bytes rounded up one container at a time would add
 * up to more than a pod sized to the exact sum, and deny it. Zero for no quantity, as
 * Kubernetes counts a container that requests none.
 */
const UNIT: Readonly<Record<Budgeted, number>> = { cpu: 1e9, memory: 1e3 };

function units(text: string | undefined, resource: Budgeted): number {
  const value = text === undefined ? undefined : parseQuantity(text);
  return value === undefined ? 0 : Math.round(value * UNIT[resource]);
}

/** What a container requests: its request, else its limit (Kubernetes's default for one). */
function requestText(
  resources: Resources | PodResources | null | undefined,
  resource: Budgeted,
): string | undefined {
  return resources?.requests?.[resource] ?? resources?.limits?.[resource];
}

interface Requester {
  readonly request: number;
  readonly restartable: boolean;
}

const requester = (c: PodContainer, resource: Budgeted): Requester => ({
  request: units(requestText(c.resources, resource), resource),
  restartable: c.restartPolicy === 'Always',
});

/**
 * The pod's request as Kubernetes sums it (AggregateContainerRequests): the app's
 * containers and every native sidecar run together; an init container runs beside the
 * sidecars started before it; the pod needs the larger of the two.
 */
function aggregate(init: readonly Requester[], containers: readonly Requester[]): number {
  let running = containers.reduce((sum, c) => sum + c.request, 0);
  let sidecars = 0;
  let initPeak = 0;
  for (const c of init) {
    if (c.restartable) {
      running += c.request;
      sidecars += c.request;
      initPeak = Math.max(initPeak, sidecars);
    } else initPeak = Math.max(initPeak, c.request + sidecars);
  }
  return Math.max(running, initPeak);
}

/**
 * A sum as a message shows it: millicores (or cores); bytes with a binary suffix where one
 * divides them, or millibytes where they are not whole.
 */
function shownUnits(value: number, resource: Budgeted): string {
  if (resource === 'cpu') {
    if (value % 1e9 === 0) return String(value / 1e9);
    return value % 1e6 === 0 ? `${value / 1e6}m` : `${value}n`;
  }
  if (value % 1e3 !== 0) return `${value}m`;
  const bytes = value / 1e3;
  for (const [suffix, size] of [
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const)
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  return String(bytes);
}

/**
 * A problem for each resource whose pod-level request the proxy's would tip over: the pod's
 * own containers fit in it, and with the proxy where it will stand they do not. A pod that
 * does not fit without the proxy is left to the API server, whose message is about the pod.
 */
export function budgetProblems(
  pod: Pod,
  proxy: Resources,
  startAfter: ReadonlySet<string>,
): AnnotationProblem[] {
  const budget = pod.spec.resources?.requests;
  if (!budget) return [];
  const own = (list: readonly PodContainer[] | null | undefined): PodContainer[] =>
    (list ?? []).filter((c) => c.name !== CONTAINER_NAME);
  const init = own(pod.spec.initContainers);
  const containers = own(pod.spec.containers);
  // Where the proxy starts: on a reinvocation, init containers put before it since run alone.
  const at = sidecarPlace(pod.spec.initContainers ?? [], startAfter);
  const problems: AnnotationProblem[] = [];
  for (const [resource, annotation] of BUDGETED) {
    const text = budget[resource];
    const proxyText = requestText(proxy, resource);
    if (text === undefined || proxyText === undefined) continue;
    const limit = units(text, resource);
    const ownInit = init.map((c) => requester(c, resource));
    const ownContainers = containers.map((c) => requester(c, resource));
    const sidecar = { request: units(proxyText, resource), restartable: true };
    const withProxy = aggregate(
      [...ownInit.slice(0, at), sidecar, ...ownInit.slice(at)],
      ownContainers,
    );
    if (withProxy <= limit || aggregate(ownInit, ownContainers) > limit) continue;
    const sum = shownUnits(withProxy, resource);
    problems.push({
      annotation: annotation.name,
      problem: `the pod's spec.resources.requests.${resource} (${visible(text)}) must cover what its containers request, ${sum} with the proxy's ${visible(proxyText)}, or Kubernetes refuses the pod: raise it to ${sum}, or lower the proxy's ${resource} request here`,
    });
  }
  return problems;
}
