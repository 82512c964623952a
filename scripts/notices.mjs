// The third-party notices that travel with the bundles (dist/THIRD_PARTY_NOTICES): the
// packages whose code esbuild put into dist/cli.js or dist/vendor/, each with the licence
// text it ships. MIT, ISC, BSD and Apache-2.0 let their code be passed on only with its
// copyright and permission notice, and a bundle keeps none of a package's files. scripts/build.mjs
// calls this with the metafiles' outputs; a package under a licence outside PERMISSIVE, or
// naming none, fails the build, so a copyleft dependency cannot slip into a bundle unnoticed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const NOTICES = 'THIRD_PARTY_NOTICES';

/**
 * Licences (SPDX identifiers) that ask no more of a redistributed bundle than their notice:
 * none requires the source of the work it is combined with. Anything else, a copyleft
 * licence, an exception (`WITH`), `SEE LICENSE IN …`, is for a person to judge and add here.
 */
export const PERMISSIVE = [
  '0BSD',
  'Apache-2.0',
  'BlueOak-1.0.0',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'ISC',
  'MIT',
];

/** A licence's own file, as packages name it: LICENSE, LICENCE.md, license-MIT, COPYING… */
const LICENCE_FILE = /^(licen[cs]e|copying)([.-][\w.-]*)?$/i;

const RULE = '='.repeat(80);
const THIN = '-'.repeat(80);

/**
 * The folders, as the metafile names them (relative to the build's working directory), of the
 * packages with code in `outputs` (esbuild's metafile `outputs`, or only their `inputs`): a
 * file counts when some of its bytes are in an output, so a package tree-shaken away, or
 * loaded only to be dropped, is not listed. A package nested in another's node_modules is a
 * package of its own. Sorted, each once.
 * @param {Record<string, { inputs: Record<string, { bytesInOutput: number }> }>} outputs
 * @returns {string[]}
 */
export function bundledPackageDirs(outputs) {
  const dirs = new Set();
  for (const { inputs } of Object.values(outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
      const dir = packageDir(input);
      if (dir !== undefined && bytesInOutput > 0) dirs.add(dir);
    }
  }
  return [...dirs].sort();
}

/**
 * The folder of the package a bundled file belongs to: up to the last node_modules/NAME
 * (or node_modules/@scope/NAME); undefined for the project's own files.
 * @param {string} file
 */
export function packageDir(file) {
  const match = /^(?:\([^)]*\):)?(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file);
  return match?.[1];
}

/**
 * Whether an SPDX expression (`MIT`, `(MIT OR Apache-2.0)`, `MIT AND ISC`) allows the
 * licences in `allowed` alone: every part of an AND, one of an OR. A `+`, a `WITH` exception
 * or anything else not spelled as listed is not allowed, so the build stops for a person to
 * look.
 * @param {string} expression
 * @param {readonly string[]} allowed
 * @returns {boolean}
 */
export function permissive(expression, allowed) {
  const tokens = expression.match(/\(|\)|[^\s()]+/g) ?? [];
  let at = 0;
  // OR binds looser than AND (SPDX annex D); a WITH clause reads as one licence.
  const anyOf = () => {
    let ok = allOf();
    while (tokens[at] === 'OR') {
      at++;
      ok = allOf() || ok;
    }
    return ok;
  };
  const allOf = () => {
    let ok = one();
    while (tokens[at] === 'AND') {
      at++;
      ok = one() && ok;
    }
    return ok;
  };
  const one = () => {
    const token = tokens[at++];
    if (token === '(') {
      const ok = anyOf();
      return tokens[at++] === ')' && ok;
    }
    if (tokens[at] === 'WITH') {
      at += 2;
      return false;
    }
    return token !== undefined && allowed.includes(token);
  };
  const ok = anyOf();
  return ok && at === tokens.length;
}

/**
 * What package.json says of a package's licence: `license`, or the old `licenses` list
 * (each of which then has to be allowed), as one SPDX expression.
 * @param {{ license?: unknown, licenses?: unknown }} manifest
 * @returns {string | undefined}
 */
export function licenceOf(manifest) {
  const { license, licenses } = manifest;
  const name = (entry) => (typeof entry === 'string' ? entry : entry?.type);
  if (license !== undefined) return typeof name(license) === 'string' ? name(license) : undefined;
  if (!Array.isArray(licenses) || licenses.length === 0) return undefined;
  const names = licenses.map(name);
  return names.every((n) => typeof n === 'string') ? names.join(' AND ') : undefined;
}

/**
 * One package's entry, read from its folder: name, version, licence and the text of every
 * licence file it ships (or, with none, what its package.json says of licence and author).
 * @param {string} dir
 */
export function readPackage(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && LICENCE_FILE.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  return {
    name: String(manifest.name),
    version: String(manifest.version),
    licence: licenceOf(manifest),
    texts: files.map((file) => readFileSync(join(dir, file), 'utf8').trim()),
    author: authorOf(manifest.author),
  };
}

/** @param {unknown} author */
function authorOf(author) {
  if (typeof author === 'string') return author;
  if (author !== null && typeof author === 'object' && 'name' in author) {
    return String(author.name);
  }
  return undefined;
}

/**
 * The packages that may not ship under `allowed`, each with why; empty when all may.
 * @param {ReturnType<typeof readPackage>[]} packages
 * @param {readonly string[]} allowed
 * @returns {string[]}
 */
export function refused(packages, allowed) {
  return packages.flatMap(({ name, version, licence }) => {
    if (licence === undefined) return [`${name}@${version}: its package.json names no licence`];
    if (!permissive(licence, allowed)) {
      return [`${name}@${version}: ${licence} is not one of ${allowed.join(', ')}`];
    }
    return [];
  });
}

/**
 * The notices file: a heading, then each package once (by name, then version, whatever
 * folder or bundle it came from) with its licence and licence text.
 * @param {string} product what the packages are bundled into, e.g. `vidispine-auth-proxy 0.1.0`
 * @param {ReturnType<typeof readPackage>[]} packages
 * @returns {string}
 */
export function renderNotices(product, packages) {
  const unique = new Map();
  for (const pkg of packages) unique.set(`${pkg.name}@${pkg.version}`, pkg);
  const sorted = [...unique.values()].sort(
    (a, b) => compare(a.name, b.name) || compare(a.version, b.version),
  );
  const entries = sorted.map(({ name, version, licence, texts, author }) => {
    const body =
      texts.length > 0
        ? texts.join(`\n\n${THIN}\n\n`)
        : `${name} ships no licence file; its package.json says:\n  license: ${licence}` +
          (author === undefined ? '' : `\n  author: ${author}`);
    return `${RULE}\n${name} ${version}\nLicense: ${licence}\n${THIN}\n\n${body}\n`;
  });
  return (
    `Third-party software in ${product}\n\n` +
    `dist/cli.js and dist/vendor/ hold code of the ${sorted.length} packages below, each ` +
    `under its own licence,\nwhose text follows its name, version and SPDX identifier.\n\n` +
    `${entries.join('\n')}`
  );
}

/** Code-point order, the same under every locale. */
function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
