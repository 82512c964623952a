/**
 * What in the pod itself, whatever its annotations say, keeps the proxy from running in it
 * safely or at all: a network, processes or a user it would share, an operating system it
 * cannot run on, and ports the pod's own containers hold. Each is a problem of the opt-in
 * label's, or of the port annotation that names a port the pod cannot give the proxy.
 */
import { ANNOTATIONS, INJECT_LABEL, METRICS_LABEL } from './annotations';
import type { NodeSelectorRequirement, NodeSelectorTerm, Pod, PodContainer } from './k8s';
import { type AnnotationProblem, shown } from './problems';
import { CONTAINER_NAME, OPS_PORT_NAME } from './sidecar';

/** The node label the scheduler matches a pod's operating system by. */
const OS_LABEL = 'kubernetes.io/os';

/** A problem of the opt-in label's: the pod cannot have the proxy, whatever it sets. */
const ofLabel = (problem: string): AnnotationProblem => ({ annotation: INJECT_LABEL, problem });

/**
 * Why the proxy cannot run in this pod whatever its annotations say, one problem a reason:
 * the node's network, a Windows node, its process seen by others, or root as its user.
 */
export function podProblems(pod: Pod, uid: number | null): AnnotationProblem[] {
  const problems: string[] = [];
  if (pod.spec.hostNetwork) {
    problems.push(
      "the pod uses hostNetwork, so the proxy's listeners would be the node's: any process on the node could act as this user, and its ports would clash with other pods'; remove the label or hostNetwork",
    );
  }
  const windows = windowsBy(pod);
  if (windows !== undefined) {
    problems.push(
      `the pod runs on Windows (${windows}): the proxy is a Linux container, which a Windows node cannot run (and Kubernetes refuses its Linux securityContext in a pod with spec.os.name: windows); remove the label, and reach Vidispine through a gateway of the proxy's (the Helm chart's gateway) instead`,
    );
  }
  problems.push(...processSharing(pod));
  const root = rootInherited(pod, uid);
  if (root !== undefined) problems.push(root);
  return problems.map(ofLabel);
}

/**
 * What says the pod runs on Windows (`spec.os.name`, its node selector, or its required node
 * affinity), if anything does.
 */
function windowsBy(pod: Pod): string | undefined {
  if (pod.spec.os?.name === 'windows') return 'spec.os.name: windows';
  const os = pod.spec.nodeSelector?.[OS_LABEL];
  if (os === 'windows') return `nodeSelector ${OS_LABEL}: windows`;
  return offLinuxBy(
    pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms,
  );
}

/**
 * Whether a Linux node, whose `kubernetes.io/os` label is `linux`, fails the requirement.
 * `Exists`, `Gt` and `Lt` are left alone: the first holds on Linux, the others are no way to
 * name an operating system.
 */
function keepsOffLinux(r: NodeSelectorRequirement): boolean {
  if (r.key !== OS_LABEL) return false;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return !values.includes('linux');
    case 'NotIn':
      return values.includes('linux');
    case 'DoesNotExist':
      return true;
    default:
      return false;
  }
}

/**
 * The requirement that keeps the pod off Linux nodes, if its required node affinity has every
 * term hold one (the terms are ORed: one that a Linux node can pass lets the pod run there).
 */
function offLinuxBy(terms: readonly NodeSelectorTerm[] | null | undefined): string | undefined {
  if (!terms || terms.length === 0) return undefined;
  let first: NodeSelectorRequirement | undefined;
  for (const term of terms) {
    const found = term.matchExpressions?.find(keepsOffLinux);
    if (found === undefined) return undefined;
    first ??= found;
  }
  const { operator, values } = first as NodeSelectorRequirement;
  return `required nodeAffinity ${OS_LABEL} ${operator}${values?.length ? ` ${values.join(', ')}` : ''}`;
}

/**
 * The fields that show the proxy's process to others, and to whom. Through /proc a process
 * that sees another reads its files (`/proc/<pid>/root`, the Secret's mount included) and its
 * memory (the tokens) as far as Unix permissions let it: a container of the proxy's uid, or
 * root with CAP_SYS_PTRACE, would hold the user's credentials.
 */
const PROCESS_SHARING = [
  ['shareProcessNamespace', 'every container of the pod'],
  ['hostPID', 'every process of the node and of its other hostPID pods'],
] as const;

/** Why the proxy's credentials would not be its own in this pod, one reason a field. */
function processSharing(pod: Pod): string[] {
  return PROCESS_SHARING.filter(([field]) => pod.spec[field] === true).map(
    ([field, whom]) =>
      `the pod sets spec.${field}, so ${whom} sees the proxy's process, and through /proc its credentials (its Secret's files and its memory): remove the label or spec.${field}`,
  );
}

/**
 * Why the proxy would run as root, if it would: where the platform assigns the user (the
 * webhook's `sidecar.uid` empty, OpenShift) the container sets none, and takes the pod's.
 * Its own `runAsNonRoot` then keeps it from ever starting; a uid of the webhook's overrides
 * the pod's.
 */
function rootInherited(pod: Pod, uid: number | null): string | undefined {
  if (uid !== null || pod.spec.securityContext?.runAsUser !== 0) return undefined;
  return "the pod's securityContext.runAsUser is 0, and the proxy takes the pod's user where the platform assigns it (the webhook's sidecar.uid is empty): it must not run as root; set runAsUser: 0 on the containers that need it rather than on the pod, or have the webhook set the proxy's uid (sidecar.uid)";
}

/**
 * Why the pod cannot have the sidecar's ops port under its own name, if it cannot: a port of
 * the app's already has that name, and the pod is scraped (deploy/monitoring's PodMonitor
 * takes the port of that name in pods with the metrics label), so the proxy's port would be
 * renamed and the app's scraped in its place. A pod that opted out of scraping (the label
 * set to anything but "true") gets the renamed port.
 */
export function scrapedPortProblems(pod: Pod): AnnotationProblem[] {
  const label = pod.metadata?.labels?.[METRICS_LABEL];
  if (label !== undefined && label !== 'true') return [];
  for (const c of ownContainers(pod)) {
    if (c.ports?.some((p) => p.name === OPS_PORT_NAME)) {
      return [
        ofLabel(
          `container ${shown(c.name)} has a port named ${OPS_PORT_NAME}, the name of the proxy's metrics port, which deploy/monitoring's PodMonitor scrapes in pods labelled ${METRICS_LABEL}: "true" (it would scrape the app's instead): rename that port, or label the pod ${METRICS_LABEL}: "false" not to be scraped`,
        ),
      ];
    }
  }
  return [];
}

/** The pod's own containers (the app's and other tools'), not a proxy already in it. */
function ownContainers(pod: Pod): PodContainer[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter(
    (c) => c.name !== CONTAINER_NAME,
  );
}

const PROBES = ['startupProbe', 'readinessProbe', 'livenessProbe'] as const;
const PROBE_ACTIONS = ['httpGet', 'tcpSocket', 'grpc'] as const;

/** The first of a container's probes that checks `port` by number (a named one is a declared port). */
function probedAt(c: PodContainer, port: number): string | undefined {
  return PROBES.find((probe) => PROBE_ACTIONS.some((action) => c[probe]?.[action]?.port === port));
}

/**
 * Why `port` is the pod's own already, if it is: a container declares it for TCP (the proxy's
 * listeners are TCP: a UDP or SCTP socket of the same number binds beside them), or probes it.
 */
function takenBy(pod: Pod, port: number): string | undefined {
  for (const c of ownContainers(pod)) {
    if (c.ports?.some((p) => p.containerPort === port && (p.protocol ?? 'TCP') === 'TCP'))
      return `is already declared by container ${shown(c.name)}`;
    const probe = probedAt(c, port);
    if (probe !== undefined)
      return `is probed in container ${shown(c.name)} (${probe}), so the app listens there`;
  }
  return undefined;
}

const UNPRIVILEGED_PORT_START = 'net.ipv4.ip_unprivileged_port_start';
/** Linux's own value of it. */
const DEFAULT_UNPRIVILEGED_PORT_START = 1024;

/**
 * The lowest port a process without CAP_NET_BIND_SERVICE binds in the pod's network
 * namespace, and whether the pod's sysctls set it. A value that is no number is the
 * runtime's to refuse, so the kernel's default stands for it.
 */
function unprivilegedPortStart(pod: Pod): { readonly start: number; readonly set: boolean } {
  const sysctl = pod.spec.securityContext?.sysctls?.find((s) => s.name === UNPRIVILEGED_PORT_START);
  return sysctl !== undefined && /^\d+$/.test(sysctl.value)
    ? { start: Number(sysctl.value), set: true }
    : { start: DEFAULT_UNPRIVILEGED_PORT_START, set: false };
}

/**
 * The data and ops ports are one: named on the annotation the pod set (the two defaults
 * differ, so it set at least one), and the other named as a default where it is one, so the
 * message never points at an annotation the pod does not have.
 */
function samePortProblem(pod: Pod, port: number): AnnotationProblem {
  const annotations = pod.metadata?.annotations ?? {};
  const opsSet = annotations[ANNOTATIONS.opsPort.name] !== undefined;
  const dataSet = annotations[ANNOTATIONS.port.name] !== undefined;
  const [a, other, role] = opsSet
    ? [ANNOTATIONS.opsPort, ANNOTATIONS.port, 'data']
    : [ANNOTATIONS.port, ANNOTATIONS.opsPort, 'ops'];
  const otherSet = opsSet && dataSet;
  return {
    annotation: a.name,
    problem: `${port} is also the ${role} port (${other.name}${otherSet ? '' : "'s default"}): set a different one`,
  };
}

/**
 * The proxy shares the pod's network: its ports must not be ones the app declares, nor ones
 * it listens on undeclared, as its probes show (both would fail to bind, or the probes would
 * reach the proxy). Nor may they be privileged: the proxy runs as a non-root user with every
 * capability dropped.
 */
export function portProblems(pod: Pod, port: number, opsPort: number): AnnotationProblem[] {
  const problems: AnnotationProblem[] = [];
  if (port === opsPort) problems.push(samePortProblem(pod, port));
  const { start, set } = unprivilegedPortStart(pod);
  for (const [a, value] of [
    [ANNOTATIONS.port, port],
    [ANNOTATIONS.opsPort, opsPort],
  ] as const) {
    const taken = takenBy(pod, value);
    if (taken !== undefined)
      problems.push({ annotation: a.name, problem: `port ${value} ${taken}: set a free port` });
    if (value < start) {
      problems.push({
        annotation: a.name,
        problem: `port ${value} is below ${start}, where unprivileged ports start (${UNPRIVILEGED_PORT_START}${set ? " in the pod's securityContext.sysctls" : ", the kernel's default"}): the proxy runs as a non-root user without capabilities and cannot bind it, so the pod would never be ready; set a port from ${start}, or set ${UNPRIVILEGED_PORT_START} to ${value} or lower in the pod's securityContext.sysctls`,
      });
    }
  }
  return problems;
}
