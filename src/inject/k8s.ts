/**
 * The parts of Kubernetes objects the webhook reads, as schemas for untrusted input. Only
 * the fields the injection depends on are checked; everything else passes through
 * untouched. `null` is accepted wherever a field may be absent (Go encodes nil that way).
 */
import { z } from 'zod';

const nameOnly = z.looseObject({ name: z.string() });
const stringMap = z.record(z.string(), z.string()).nullish();

const containerSchema = z.looseObject({
  name: z.string(),
  env: z.array(nameOnly).nullish(),
  ports: z
    .array(z.looseObject({ name: z.string().nullish(), containerPort: z.number() }))
    .nullish(),
});

export const podSchema = z.looseObject({
  metadata: z.looseObject({ labels: stringMap, annotations: stringMap }).nullish(),
  spec: z.looseObject({
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
