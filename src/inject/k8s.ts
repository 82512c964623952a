/**
 * The parts of Kubernetes objects the webhook reads, as schemas for untrusted input. Only
 * the fields the injection depends on are checked, and only they are kept: the parsed pod
 * is what the decision reads, never what is written back (the patch names paths in the
 * pod the API server holds), and copying every other field of every container took more
 * than twice as long as checking these. `null` is accepted wherever a field may be absent
 * (Go encodes nil that way).
 */
import * as z from 'zod';

const nameOnly = z.object({ name: z.string() });
const stringMap = z.record(z.string(), z.string()).nullish();

/** An env entry: a value, or a reference (`valueFrom`) whose content is not the webhook's concern. */
const envVar = z.object({
  name: z.string(),
  value: z.string().nullish(),
  valueFrom: z.unknown().optional(),
});

const containerSchema = z.object({
  name: z.string(),
  env: z.array(envVar).nullish(),
  ports: z.array(z.object({ name: z.string().nullish(), containerPort: z.number() })).nullish(),
});

export const podSchema = z.object({
  metadata: z.object({ labels: stringMap, annotations: stringMap }).nullish(),
  spec: z.object({
    hostNetwork: z.boolean().nullish(),
    containers: z.array(containerSchema),
    initContainers: z.array(containerSchema).nullish(),
    volumes: z.array(nameOnly).nullish(),
  }),
});

export type Pod = z.output<typeof podSchema>;
export type PodContainer = z.output<typeof containerSchema>;

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
