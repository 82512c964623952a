/**
 * What a pod asks for, read whole: the names of its labels and annotations, the pod itself, then each
 * annotation with the checks of the pod that depend on it. Every step adds its problems in
 * turn and none stops the others, so one denial lists everything there is to fix.
 */
import type { SidecarDefaults } from '../config/injector';
import { ANNOTATIONS } from './annotations';
import type { Pod } from './k8s';
import { budgetProblems } from './pod-budget';
import { podProblems, portProblems, scrapedPortProblems } from './pod-checks';
import type { AnnotationProblem } from './problems';
import {
  checkRunAsUser,
  labelledAnnotations,
  misnamedAnnotations,
  readBoolean,
  readCa,
  readCredential,
  readEnvName,
  readerOf,
  readLogLevel,
  readPorts,
  readResources,
  readStartAfter,
  readTokenSeconds,
  readUrl,
  readUser,
} from './readers';
import type { SidecarSettings } from './sidecar';

/** Cluster-wide settings from the webhook's own configuration. */
export type InjectDefaults = SidecarDefaults;

/** Reads one pod's annotations: its sidecar settings and the env variable it asked for. */
export interface PodRequest {
  readonly settings: SidecarSettings;
  readonly envName?: string;
  /** The webhook's pull secrets for the proxy image, added to the pod's. */
  readonly imagePullSecrets: readonly string[];
  /** Init containers the sidecar starts after (`start-after`), besides a mesh's proxy. */
  readonly startAfter: ReadonlySet<string>;
}

export function readPodRequest(
  pod: Pod,
  defaults: InjectDefaults,
): PodRequest | AnnotationProblem[] {
  const annotations = pod.metadata?.annotations ?? {};
  const problems = [
    ...labelledAnnotations(pod.metadata?.labels ?? {}, annotations),
    ...misnamedAnnotations(annotations),
    ...podProblems(pod, defaults.uid),
  ];
  const r = readerOf(annotations, problems);
  const user = readUser(r);
  const vidispineUrl = readUrl(r, defaults);
  const vidispineCa = readCa(r, defaults);
  const credential = readCredential(r, defaults);
  checkRunAsUser(r, user, credential);
  problems.push(...scrapedPortProblems(pod));
  const { port, opsPort } = readPorts(r);
  problems.push(...portProblems(pod, port, opsPort));
  const tokenSeconds = readTokenSeconds(r);
  const tokenAutoRefresh = readBoolean(r, ANNOTATIONS.tokenAutoRefresh, false);
  const logLevel = readLogLevel(r);
  const resources = readResources(r, defaults.resources);
  const startAfter = readStartAfter(r);
  problems.push(...budgetProblems(pod, resources, startAfter));
  const envName = readEnvName(r);

  // Each reader that gives nothing has said why in `problems`.
  if (
    problems.length > 0 ||
    user === undefined ||
    vidispineUrl === undefined ||
    credential === undefined
  )
    return problems;
  return {
    settings: {
      image: defaults.image,
      imagePullPolicy: defaults.imagePullPolicy,
      vidispineUrl,
      ...(vidispineCa ? { vidispineCa } : {}),
      user,
      credential,
      port,
      opsPort,
      tokenSeconds,
      tokenAutoRefresh,
      logLevel,
      uid: defaults.uid,
      resources,
    },
    ...(envName ? { envName } : {}),
    imagePullSecrets: defaults.imagePullSecrets,
    startAfter,
  };
}
