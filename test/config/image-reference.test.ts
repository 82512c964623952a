import { imageReferenceProblem } from '../../src/config/image-reference';

describe('image references', () => {
  const sha = 'a'.repeat(64);
  it.each([
    'vidispine-auth-proxy',
    'vidispine-auth-proxy:0.1.0',
    'registry.example.com/vidispine-auth-proxy:0.1.0',
    'registry.example.com:5000/team/vidispine-auth-proxy:0.1.0',
    'localhost/proxy',
    'localhost:5000/proxy:latest',
    'myregistry/proxy',
    'Registry.Example.com/proxy',
    '[::1]:5000/proxy:1',
    'a__b/c.d/e--f_g:Tag_1.x-y',
    `r/x:1@sha256:${sha}`,
    `r/x@sha256:${sha}`,
    `r/x@sha512:${'0'.repeat(128)}`,
    `r/x@blake3:${'0'.repeat(32)}`,
    `r/x:${'t'.repeat(128)}`,
    `${'a'.repeat(255)}:1`,
  ])('takes %s', (ref) => {
    expect(imageReferenceProblem(ref)).toBeUndefined();
  });

  it.each([
    ['bad image', 'it contains a space or line break'],
    ['r/x:1 ', 'it contains a space or line break'],
    [' r/x:1', 'it contains a space or line break'],
    [
      'https://r/x:1',
      'a reference has no scheme: write registry/path, without http:// or https://',
    ],
    ['r/x:1@sha256:zz', 'the digest "sha256:zz" must be sha256: and 64 lower-case hex digits'],
    [
      `r/x@sha256:${'A'.repeat(64)}`,
      `the digest "sha256:${'A'.repeat(64)}" must be sha256: and 64 lower-case hex digits`,
    ],
    [
      `r/x@sha256:${sha}0`,
      `the digest "sha256:${sha}0" must be sha256: and 64 lower-case hex digits`,
    ],
    ['r/x@latest', 'the digest "latest" is not algorithm:hex (e.g. sha256: and 64 hex digits)'],
    ['r/x@md5:00', 'the digest "md5:00" must be md5: and at least 32 hex digits'],
    ['r/x:', `the tag "" must be letters, digits, '_', '.' and '-' (not first), at most 128`],
    ['r/x:.1', `the tag ".1" must be letters, digits, '_', '.' and '-' (not first), at most 128`],
    [
      `r/x:${'t'.repeat(129)}`,
      `the tag "${'t'.repeat(129)}" must be letters, digits, '_', '.' and '-' (not first), at most 128`,
    ],
    [
      'r/X:1',
      `the path component "X" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`,
    ],
    [
      'Proxy',
      `the path component "Proxy" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`,
    ],
    [
      'r//x',
      `the path component "" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`,
    ],
    [
      'r/x/',
      `the path component "" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`,
    ],
    [
      'r/a___b',
      `the path component "a___b" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`,
    ],
    [
      'r/-x',
      `the path component "-x" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`,
    ],
    [
      'r.example.com:port/x',
      'the registry "r.example.com:port" is not a host name or [IPv6] address with an optional :port',
    ],
    [
      '-r.example.com/x',
      'the registry "-r.example.com" is not a host name or [IPv6] address with an optional :port',
    ],
    [':1', 'it has no repository path'],
    [`${'a'.repeat(256)}:1`, 'the name before the tag is 256 characters (at most 255)'],
  ])('refuses %j: %s', (ref, problem) => {
    expect(imageReferenceProblem(ref)).toBe(problem);
  });
});
