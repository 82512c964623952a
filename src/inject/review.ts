/**
 * One `admission.k8s.io/v1` AdmissionReview in, one decision out: pure, no I/O. The rules:
 *
 * - anything but the CREATE of a Pod (other kinds, operations, subresources) is allowed
 *   unchanged, and so is a static pod's mirror and a pod without the opt-in label (which
 *   the objectSelector should never have sent);
 * - a pod that already runs the proxy is left as it is (reinvocation, the chart's or the
 *   component's sidecar); one this webhook injected only gets the app env variable added to
 *   containers that appeared since (another webhook's), and its sidecar moved right after a
 *   mesh's proxy that another webhook put after it (its env variable taken back from the init
 *   containers the move puts ahead of it), unless another webhook changed the pod in a way
 *   its annotations would have been denied for (a container on one of the proxy's ports,
 *   or setting the env variable itself): that pod is denied, as it would fail at run time
 *   or run with a setting nobody wrote;
 * - a pod whose annotations are bad or incomplete is denied, naming each annotation and
 *   what to set: it asked for the proxy and must not start without it; so is one with a
 *   container that sets the env variable itself, which the webhook never changes;
 * - otherwise the JSONPatch that adds the sidecar.
 *
 * A pod let through with the sidecar this webhook injects (now or before) gets a warning
 * where Istio's sidecar captures the proxy's ops port (`mesh-capture.ts`), and where the
 * proxy's resources take a Guaranteed pod's QoS class away (`qos.ts`).
 *
 * `dryRun` needs nothing special: the decision has no side effects.
 */
import { optedIn } from './annotations';
import { readPod, type Pod } from './k8s';
import { meshWarnings } from './mesh-capture';
import { qosWarnings } from './qos';
import {
  appEnvPatch,
  envClashes,
  hasSidecar,
  injectedByUs,
  injectionPatch,
  type PatchOperation,
  patchText,
  placementPatch,
} from './patch';
import type { AnnotationProblem } from './problems';
import { type InjectDefaults, type PodRequest, readPodRequest } from './request';
import { boolean, object, optional, ShapeError, string } from './shape';

const optionalString = optional(string);
const optionalBoolean = optional(boolean);

const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
/** Marks the pod the kubelet makes in the API for each static pod it runs. */
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** The fields of an AdmissionReview's request that the webhook reads; `object` is checked by the decision. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly subResource?: string | null;
  readonly operation: string;
  readonly namespace?: string | null;
  readonly name?: string | null;
  readonly dryRun?: boolean | null;
  readonly object?: unknown;
}

/** Why a review was answered the way it was: the `result` label of the metrics, and the log. */
export const ADMISSION_RESULTS = [
  'injected',
  'env_added',
  'moved',
  'already_injected',
  'ignored',
  'not_labelled',
  'denied',
] as const;
export type AdmissionResult = (typeof ADMISSION_RESULTS)[number];

export interface Decision {
  readonly result: AdmissionResult;
  readonly allowed: boolean;
  /** Empty when the object is left unchanged. */
  readonly patch: readonly PatchOperation[];
  /** For a denial: what the user sees (`kubectl` prints it). */
  readonly message?: string;
  /**
   * For a pod let through: what will fail in it and what to set (`kubectl` prints them for a
   * pod it creates; a controller creating the pod gets them instead). Never a change to the
   * patch: a reinvocation gives the same ones, which the API server shows once.
   */
  readonly warnings?: readonly string[];
}

const allow = (
  result: AdmissionResult,
  patch: readonly PatchOperation[] = [],
  warnings: readonly string[] = [],
): Decision => ({
  result,
  allowed: true,
  patch,
  ...(warnings.length > 0 ? { warnings } : {}),
});

const deny = (message: string): Decision => ({
  result: 'denied',
  allowed: false,
  patch: [],
  message,
});

/** `request` of a review: the fields the webhook reads, each checked. */
function readRequest(value: unknown): AdmissionRequest {
  const request = object(value, 'request');
  const uid = string(request.uid, 'request.uid');
  if (uid === '') throw new ShapeError('request.uid', 'a UID', uid);
  const kind = object(request.kind, 'request.kind');
  return {
    uid,
    kind: {
      group: string(kind.group, 'request.kind.group'),
      version: string(kind.version, 'request.kind.version'),
      kind: string(kind.kind, 'request.kind.kind'),
    },
    operation: string(request.operation, 'request.operation'),
    subResource: optionalString(request.subResource, 'request.subResource'),
    namespace: optionalString(request.namespace, 'request.namespace'),
    name: optionalString(request.name, 'request.name'),
    dryRun: optionalBoolean(request.dryRun, 'request.dryRun'),
    object: request.object,
  };
}

function literal(value: unknown, path: string, expected: string): void {
  if (value !== expected) throw new ShapeError(path, JSON.stringify(expected), value, true);
}

/** The review's request, or a problem that makes the body no AdmissionReview (→ HTTP 400). */
export function parseReview(body: unknown): AdmissionRequest | { problem: string } {
  try {
    const review = object(body, '');
    literal(review.apiVersion, 'apiVersion', ADMISSION_API_VERSION);
    literal(review.kind, 'kind', 'AdmissionReview');
    return readRequest(review.request);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    return { problem: `not an ${ADMISSION_API_VERSION} AdmissionReview: ${err.message}` };
  }
}

/**
 * Most problems a denial lists. The API server passes up to 256 KiB of annotations, and a
 * line for each of thousands of misspelt ones made an answer (and a log line) of megabytes;
 * a log line over 1 MiB is never written at all.
 */
const MAX_LISTED_PROBLEMS = 10;

function listed(problems: readonly AnnotationProblem[]): string {
  const lines = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `${p.annotation}: ${p.problem}`);
  const more = problems.length - MAX_LISTED_PROBLEMS;
  if (more > 0) lines.push(`and ${more} more`);
  return lines.join('; ');
}

/**
 * What the pod asks for, or every problem with it: its annotations', then the variables of its
 * own that the env variable would change (checked against the port the annotations name).
 */
function podRequest(pod: Pod, defaults: InjectDefaults): PodRequest | AnnotationProblem[] {
  const asked = readPodRequest(pod, defaults);
  if (Array.isArray(asked)) return asked;
  const clashes = envClashes(pod, asked);
  return clashes.length > 0 ? clashes : asked;
}

function isPodCreate(request: AdmissionRequest): boolean {
  const { group, version, kind } = request.kind;
  return (
    group === '' &&
    version === 'v1' &&
    kind === 'Pod' &&
    request.operation === 'CREATE' &&
    !request.subResource
  );
}

/** What will go wrong in a pod let through with the proxy, and what to set: the same on reinvocation. */
const podWarnings = (pod: Pod, asked: PodRequest): string[] => [
  ...meshWarnings(pod, asked.settings.opsPort),
  ...qosWarnings(pod, asked.settings.resources),
];

export function admit(request: AdmissionRequest, defaults: InjectDefaults): Decision {
  if (!isPodCreate(request)) return allow('ignored');
  let pod: Pod;
  try {
    pod = readPod(request.object);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    return deny(`request.object is not a Pod: ${err.message}`);
  }
  // The API's copy of a static pod: the kubelet runs the manifest, not this, and the
  // NodeRestriction admission refuses a mirror that mounts a Secret.
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return allow('ignored');
  if (!optedIn(pod)) return allow('not_labelled');
  const asked = podRequest(pod, defaults);
  if (hasSidecar(pod)) {
    // Added otherwise (the chart's template, the component): never a second proxy, never a denial.
    if (!injectedByUs(pod)) return allow('already_injected');
    // Reinvoked: the pod as the webhooks after ours left it. Kubernetes refuses a container or
    // volume name taken twice, but not a port, so a container added on one of the proxy's
    // ports would fail to bind or be probed in its place: held to the rules it was injected by.
    if (Array.isArray(asked))
      return deny(
        `the pod changed after the vidispine-auth-proxy sidecar was added (another webhook's doing) and no longer fits it: ${listed(asked)}`,
      );
    const env = appEnvPatch(pod, asked);
    const move = placementPatch(pod, asked);
    const warnings = podWarnings(pod, asked);
    if (move.length > 0) return allow('moved', [...env, ...move], warnings);
    return env.length > 0
      ? allow('env_added', env, warnings)
      : allow('already_injected', [], warnings);
  }
  if (Array.isArray(asked))
    return deny(`cannot add the vidispine-auth-proxy sidecar: ${listed(asked)}`);
  return allow('injected', injectionPatch(pod, asked), podWarnings(pod, asked));
}

/**
 * The AdmissionReview the API server expects back, as JSON text. Written out around the
 * patch rather than stringified whole: the base64 patch is most of its bytes, and
 * JSON.stringify would scan them once more for characters that base64 never has.
 */
export function reviewResponse(uid: string, decision: Decision): string {
  const fields = [`"uid":${JSON.stringify(uid)}`, `"allowed":${decision.allowed}`];
  if (decision.patch.length > 0) {
    const patch = Buffer.from(patchText(decision.patch)).toString('base64');
    fields.push('"patchType":"JSONPatch"', `"patch":"${patch}"`);
  }
  if (!decision.allowed) {
    const status = { code: 400, reason: 'BadRequest', message: decision.message };
    fields.push(`"status":${JSON.stringify(status)}`);
  }
  if (decision.warnings) fields.push(`"warnings":${JSON.stringify(decision.warnings)}`);
  return `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"AdmissionReview","response":{${fields.join(',')}}}`;
}
