import { shownValue } from '../visible-text';

/**
 * A container image reference as registries, containerd and the kubelet read it (the
 * grammar of github.com/distribution/reference): `[registry[:port]/]path[:tag][@digest]`.
 * The API server checks no more than surrounding space, so a reference outside this
 * grammar is taken into every injected pod, which then fails to pull (`InvalidImageName`):
 * checked here, once, at the webhook's start instead.
 */

/** `a`, `a.b`, `a__b`, `a-b`, `a--b`: lower-case letters and digits, joined by one separator. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const REGISTRY = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST_ALGORITHM = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;
/** The lengths of the registered algorithms' hex digests; another algorithm: 32 or more. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = {
  sha256: 64,
  sha384: 96,
  sha512: 128,
};
/** The name's limit in the grammar (registry and path, without tag or digest). */
const MAX_NAME_LENGTH = 255;

/**
 * The first component is a registry when it looks like a host (a `.` or a `:`, `localhost`,
 * or an upper-case letter, which no path component may have), as Docker splits it.
 */
const isRegistry = (first: string): boolean =>
  /[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase();

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = colon < 0 ? '' : digest.slice(0, colon);
  const hex = colon < 0 ? '' : digest.slice(colon + 1);
  if (!DIGEST_ALGORITHM.test(algorithm)) {
    return `the digest "${shownValue(digest)}" is not algorithm:hex (e.g. sha256: and 64 hex digits)`;
  }
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length !== undefined) {
    return new RegExp(`^[a-f0-9]{${length}}$`).test(hex)
      ? undefined
      : `the digest "${shownValue(digest)}" must be ${algorithm}: and ${length} lower-case hex digits`;
  }
  return /^[a-fA-F0-9]{32,}$/.test(hex)
    ? undefined
    : `the digest "${shownValue(digest)}" must be ${algorithm}: and at least 32 hex digits`;
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'it has no repository path';
  if (name.length > MAX_NAME_LENGTH) {
    return `the name before the tag is ${name.length} characters (at most ${MAX_NAME_LENGTH})`;
  }
  const components = name.split('/');
  const first = components[0] ?? '';
  if (components.length > 1 && isRegistry(first)) {
    components.shift();
    if (!REGISTRY.test(first)) {
      return `the registry "${shownValue(first)}" is not a host name or [IPv6] address with an optional :port`;
    }
  }
  const bad = components.find((c) => !PATH_COMPONENT.test(c));
  return bad === undefined
    ? undefined
    : `the path component "${shownValue(bad)}" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`;
}

/**
 * What is wrong with `ref` as an image reference, or undefined when nothing is (an image
 * name is no secret: its parts are quoted, made visible and cut short).
 */
export function imageReferenceProblem(ref: string): string | undefined {
  if (/\s/.test(ref)) return 'it contains a space or line break';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
    return 'a reference has no scheme: write registry/path, without http:// or https://';
  }
  const at = ref.indexOf('@');
  const named = at < 0 ? ref : ref.slice(0, at);
  if (at >= 0) {
    const problem = digestProblem(ref.slice(at + 1));
    if (problem !== undefined) return problem;
  }
  // A tag follows the last ':' after the last '/' (a ':' before it is a registry's port).
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  const name = hasTag ? named.slice(0, colon) : named;
  if (hasTag) {
    const tag = named.slice(colon + 1);
    if (!TAG.test(tag)) {
      return `the tag "${shownValue(tag)}" must be letters, digits, '_', '.' and '-' (not first), at most 128`;
    }
  }
  return nameProblem(name);
}
