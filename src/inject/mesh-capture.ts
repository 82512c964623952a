/**
 * Whether Istio's sidecar captures the proxy's ops port, which the kubelet probes and
 * Prometheus scrapes in plain HTTP. Istio points the pod's HTTP probes at its agent (port
 * 15020) when it injects its own proxy, which its webhook does before this one: the proxy
 * added afterwards keeps probes on its ops port, which the capture sends through
 * `istio-proxy`. Under STRICT mTLS that refuses plain HTTP, the startup probe never passes
 * and the app never starts. The pod can exclude the port from the capture. The webhook does
 * not do it for the pod: without Istio's CNI, Istio has already written the annotation into
 * istio-init's arguments, and taking a port out of the mesh's mTLS is the pod's decision to
 * make. It warns instead.
 *
 * Linkerd has no such case: its proxy accepts plain HTTP under its default policy, and under
 * a stricter one it still authorizes the kubelet's probes of every container of the pod as
 * it runs, the proxy added here included.
 */
import type { Pod, PodContainer } from './k8s';
import { ISTIO_PROXY } from './placement';
import { CONTAINER_NAME } from './sidecar';

/** The pod annotations Istio reads its inbound capture from (its injector and its CNI). */
const ISTIO_EXCLUDE_INBOUND = 'traffic.sidecar.istio.io/excludeInboundPorts';
const ISTIO_INCLUDE_INBOUND = 'traffic.sidecar.istio.io/includeInboundPorts';
const ISTIO_INTERCEPTION_MODE = 'sidecar.istio.io/interceptionMode';
/** Where Istio's agent answers the probes it took over: `/app-health/<container>/…`. */
const ISTIO_PROBE_PATH = '/app-health/';

/** The inbound ports redirected to the sidecar: `*` for all, or a list; less the excluded. */
interface InboundCapture {
  readonly include: string;
  readonly exclude: string;
}

/** A flag's value in istio-iptables' arguments (`-b '*'`), as Istio's template writes it. */
function flag(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/**
 * The capture as it applies to the pod, or none. Without Istio's CNI, istio-init applies
 * its `-b` and `-d` arguments, in which Istio's injector wrote the pod's annotations or the
 * mesh's defaults (with its own ports); with the CNI, the plugin reads the annotations,
 * which the injector then writes into the pod with the same defaults.
 */
function istioCapture(pod: Pod): InboundCapture | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[ISTIO_INTERCEPTION_MODE] === 'NONE') return undefined;
  const include = annotations[ISTIO_INCLUDE_INBOUND] ?? '*';
  const exclude = annotations[ISTIO_EXCLUDE_INBOUND] ?? '';
  const args = pod.spec.initContainers?.find((c) => c.name === 'istio-init')?.args ?? [];
  return { include: flag(args, '-b') ?? include, exclude: flag(args, '-d') ?? exclude };
}

/** Whether a comma-separated list of port numbers (spaces allowed) holds `port`. */
const lists = (ports: string, port: number): boolean =>
  ports.split(',').some((p) => /^\d+$/.test(p.trim()) && Number(p.trim()) === port);

const hasIstioProxy = (pod: Pod): boolean =>
  [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((c) => c.name === ISTIO_PROXY);

/**
 * Whether Istio took over the sidecar's startup probe: it does for the containers present
 * when it injects, so for a proxy injected before Istio's own webhook ran (a reinvocation).
 */
const probedByIstio = (sidecar: PodContainer | undefined): boolean => {
  const path = sidecar?.startupProbe?.httpGet?.path;
  return typeof path === 'string' && path.startsWith(ISTIO_PROBE_PATH);
};

/**
 * The warning for a pod that gets (or has) the proxy on `opsPort`: what to set, and why,
 * within the 120 characters Kubernetes asks of a warning. None without Istio's sidecar, or
 * where the port is not captured or Istio probes the proxy itself.
 */
export function meshWarnings(pod: Pod, opsPort: number): string[] {
  if (!hasIstioProxy(pod)) return [];
  const sidecar = pod.spec.initContainers?.find((c) => c.name === CONTAINER_NAME);
  if (probedByIstio(sidecar)) return [];
  const capture = istioCapture(pod);
  if (!capture) return [];
  const why = 'vidispine-auth-proxy probes fail under Istio STRICT mTLS';
  if (capture.include.trim() === '*') {
    return lists(capture.exclude, opsPort)
      ? []
      : [`${why}: add ${opsPort} to ${ISTIO_EXCLUDE_INBOUND}`];
  }
  // A list of ports: only those are captured, and exclusions do not apply.
  return lists(capture.include, opsPort)
    ? [`${why}: remove ${opsPort} from ${ISTIO_INCLUDE_INBOUND}`]
    : [];
}
