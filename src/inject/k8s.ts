/**
 * The parts of Kubernetes objects the webhook reads, and the check that a pod in a review
 * has them. Only the fields the injection depends on are checked; the pod is read in place,
 * never copied, and never written back (the patch names paths in the pod the API server
 * holds). `null` is accepted wherever a field may be absent (Go encodes nil that way).
 */
import {
  at,
  boolean,
  type Fields,
  list,
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

export interface PodContainer {
  readonly name: string;
  readonly env?: readonly PodEnvVar[] | null;
  readonly ports?:
    readonly { readonly name?: string | null; readonly containerPort: number }[] | null;
}

export interface Pod {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>> | null;
    readonly annotations?: Readonly<Record<string, string>> | null;
  } | null;
  readonly spec: {
    readonly hostNetwork?: boolean | null;
    readonly containers: readonly PodContainer[];
    readonly initContainers?: readonly PodContainer[] | null;
    readonly volumes?: readonly { readonly name: string }[] | null;
  };
}

function named(value: unknown, path: string): Fields {
  const fields = object(value, path);
  string(fields.name, at(path, 'name'));
  return fields;
}

function envVar(value: unknown, path: string): void {
  optional(named(value, path).value, at(path, 'value'), string);
}

function containerPort(value: unknown, path: string): void {
  const port = object(value, path);
  optional(port.name, at(path, 'name'), string);
  number(port.containerPort, at(path, 'containerPort'));
}

const envList = (value: unknown, path: string): void => void list(value, path, envVar);
const portList = (value: unknown, path: string): void => void list(value, path, containerPort);

function container(value: unknown, path: string): void {
  const fields = named(value, path);
  optional(fields.env, at(path, 'env'), envList);
  optional(fields.ports, at(path, 'ports'), portList);
}

const containers = (value: unknown, path: string): void => void list(value, path, container);
const volumes = (value: unknown, path: string): void => void list(value, path, named);

function metadata(value: unknown, path: string): void {
  const fields = object(value, path);
  optional(fields.labels, at(path, 'labels'), stringMap);
  optional(fields.annotations, at(path, 'annotations'), stringMap);
}

/** `value` as a Pod, checked in the fields the webhook reads; a `ShapeError` names the first that is not. */
export function readPod(value: unknown): Pod {
  const pod = object(value, '');
  optional(pod.metadata, 'metadata', metadata);
  const spec = object(pod.spec, 'spec');
  optional(spec.hostNetwork, 'spec.hostNetwork', boolean);
  containers(spec.containers, 'spec.containers');
  optional(spec.initContainers, 'spec.initContainers', containers);
  optional(spec.volumes, 'spec.volumes', volumes);
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
