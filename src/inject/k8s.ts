/**
 * The parts of Kubernetes objects the webhook reads, and the check that a pod in a review
 * has them. Only the fields the injection depends on are checked; the pod is read in place,
 * never copied, and never written back (the patch names paths in the pod the API server
 * holds). `null` is accepted wherever a field may be absent (Go encodes nil that way).
 */
import {
  at,
  boolean,
  type Check,
  type Fields,
  listOf,
  number,
  object,
  optional,
  string,
  stringMap,
} from './shape';

/** An env entry: a value, or a reference (`valueFrom`) whose content is not the webhook's concern. */
export interface PodEnvVar {
  readonly name: string;
  readonly value?: string | null;
  readonly valueFrom?: unknown;
}

/**
 * A probe as far as the webhook reads it: the port of its action. Not checked (a port that
 * is not a number matches none), since the API server validates probes after the webhook.
 */
interface PodProbe {
  readonly httpGet?: { readonly port?: unknown; readonly path?: unknown } | null;
  readonly tcpSocket?: { readonly port?: unknown } | null;
  readonly grpc?: { readonly port?: unknown } | null;
}

export interface PodContainer {
  readonly name: string;
  /** `Always` makes an init container a native sidecar. */
  readonly restartPolicy?: string | null;
  /** Read of a mesh's init container only: the capture it sets up. */
  readonly args?: readonly string[] | null;
  readonly env?: readonly PodEnvVar[] | null;
  readonly ports?:
    | readonly {
        readonly name?: string | null;
        readonly containerPort: number;
        /** `TCP` when absent; `UDP` and `SCTP` share no number with the proxy's TCP listeners. */
        readonly protocol?: string | null;
      }[]
    | null;
  readonly startupProbe?: PodProbe | null;
  readonly readinessProbe?: PodProbe | null;
  readonly livenessProbe?: PodProbe | null;
  /** Quantities as the API server writes them: text. */
  readonly resources?: PodResources | null;
}

/** A container's or a pod's `resources`: quantities by resource name. */
export interface PodResources {
  readonly requests?: Readonly<Record<string, string>> | null;
  readonly limits?: Readonly<Record<string, string>> | null;
}

/** One of a node selector's requirements: a label's key, how it is matched and the values. */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[] | null;
}

/** A term of a required node affinity: its expressions must all hold (terms are ORed). */
export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[] | null;
}

export interface Pod {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>> | null;
    readonly annotations?: Readonly<Record<string, string>> | null;
  } | null;
  readonly spec: {
    readonly hostNetwork?: boolean | null;
    readonly shareProcessNamespace?: boolean | null;
    readonly hostPID?: boolean | null;
    readonly os?: { readonly name?: string | null } | null;
    readonly nodeSelector?: Readonly<Record<string, string>> | null;
    readonly affinity?: {
      readonly nodeAffinity?: {
        readonly requiredDuringSchedulingIgnoredDuringExecution?: {
          /** Null where Go encodes an empty list: the API server's validation refuses that. */
          readonly nodeSelectorTerms?: readonly NodeSelectorTerm[] | null;
        } | null;
      } | null;
    } | null;
    /** The pod's own requests and limits, which its containers' must fit in. */
    readonly resources?: PodResources | null;
    readonly securityContext?: {
      /** What every container that sets none runs as: a proxy without a uid of its own too. */
      readonly runAsUser?: number | null;
      readonly sysctls?: readonly { readonly name: string; readonly value: string }[] | null;
    } | null;
    readonly containers: readonly PodContainer[];
    readonly initContainers?: readonly PodContainer[] | null;
    readonly volumes?: readonly { readonly name: string }[] | null;
    readonly imagePullSecrets?: readonly { readonly name?: string | null }[] | null;
  };
}

const optionalString = optional(string);
const optionalStringMap = optional(stringMap);

const named: Check<Fields> = (value, path) => {
  const fields = object(value, path);
  string(fields.name, at(path, 'name'));
  return fields;
};

const envVar: Check<void> = (value, path) => {
  optionalString(named(value, path).value, at(path, 'value'));
};

const containerPort: Check<void> = (value, path) => {
  const port = object(value, path);
  optionalString(port.name, at(path, 'name'));
  number(port.containerPort, at(path, 'containerPort'));
  optionalString(port.protocol, at(path, 'protocol'));
};

const optionalEnv = optional(listOf(envVar));
const optionalPorts = optional(listOf(containerPort));
const optionalArgs = optional(listOf(string));

const optionalResources = optional((value, path) => {
  const fields = object(value, path);
  optionalStringMap(fields.requests, at(path, 'requests'));
  optionalStringMap(fields.limits, at(path, 'limits'));
});

const container: Check<void> = (value, path) => {
  const fields = named(value, path);
  optionalString(fields.restartPolicy, at(path, 'restartPolicy'));
  optionalArgs(fields.args, at(path, 'args'));
  optionalEnv(fields.env, at(path, 'env'));
  optionalPorts(fields.ports, at(path, 'ports'));
  optionalResources(fields.resources, at(path, 'resources'));
};

const containers = listOf(container);
const optionalContainers = optional(containers);
const optionalVolumes = optional(listOf(named));
const optionalBoolean = optional(boolean);
const optionalNumber = optional(number);
const optionalReferences = optional(
  listOf((value, path) => {
    optionalString(object(value, path).name, at(path, 'name'));
  }),
);

const optionalSysctls = optional(
  listOf((value, path) => {
    string(named(value, path).value, at(path, 'value'));
  }),
);

const optionalOs = optional((value, path) => {
  optionalString(object(value, path).name, at(path, 'name'));
});

const optionalStrings = optional(listOf(string));

const optionalRequirements = optional(
  listOf((value, path) => {
    const fields = object(value, path);
    string(fields.key, at(path, 'key'));
    string(fields.operator, at(path, 'operator'));
    optionalStrings(fields.values, at(path, 'values'));
  }),
);

const optionalTerms = optional(
  listOf((value, path) => {
    optionalRequirements(object(value, path).matchExpressions, at(path, 'matchExpressions'));
  }),
);

const optionalRequired = optional((value, path) => {
  optionalTerms(object(value, path).nodeSelectorTerms, at(path, 'nodeSelectorTerms'));
});

const REQUIRED = 'requiredDuringSchedulingIgnoredDuringExecution';

const optionalNodeAffinity = optional((value, path) => {
  optionalRequired(object(value, path)[REQUIRED], at(path, REQUIRED));
});

/** Where a pod may be scheduled by its required node affinity (the preferred one binds nothing). */
const optionalAffinity = optional((value, path) => {
  optionalNodeAffinity(object(value, path).nodeAffinity, at(path, 'nodeAffinity'));
});

const optionalSecurityContext = optional((value, path) => {
  const fields = object(value, path);
  optionalNumber(fields.runAsUser, at(path, 'runAsUser'));
  optionalSysctls(fields.sysctls, at(path, 'sysctls'));
});

const optionalMetadata = optional((value, path) => {
  const fields = object(value, path);
  optionalStringMap(fields.labels, at(path, 'labels'));
  optionalStringMap(fields.annotations, at(path, 'annotations'));
});

/** `value` as a Pod, checked in the fields the webhook reads; a `ShapeError` names the first that is not. */
export function readPod(value: unknown): Pod {
  const pod = object(value, '');
  optionalMetadata(pod.metadata, 'metadata');
  const spec = object(pod.spec, 'spec');
  optionalBoolean(spec.hostNetwork, 'spec.hostNetwork');
  optionalBoolean(spec.shareProcessNamespace, 'spec.shareProcessNamespace');
  optionalBoolean(spec.hostPID, 'spec.hostPID');
  optionalOs(spec.os, 'spec.os');
  optionalStringMap(spec.nodeSelector, 'spec.nodeSelector');
  optionalAffinity(spec.affinity, 'spec.affinity');
  optionalResources(spec.resources, 'spec.resources');
  optionalSecurityContext(spec.securityContext, 'spec.securityContext');
  containers(spec.containers, 'spec.containers');
  optionalContainers(spec.initContainers, 'spec.initContainers');
  optionalVolumes(spec.volumes, 'spec.volumes');
  optionalReferences(spec.imagePullSecrets, 'spec.imagePullSecrets');
  return value as Pod;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly [field: string]: unknown;
}

/** A container as it is written into a pod (fields beyond `name` as Kubernetes names them). */
export interface Container {
  readonly name: string;
  readonly [field: string]: unknown;
}

export interface Volume {
  readonly name: string;
  readonly [field: string]: unknown;
}
