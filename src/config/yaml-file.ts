import { closeSync, constants, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import type { Document, ErrorCode, LineCounter, Pair } from 'yaml';
import { shownKeyPath, shownValue } from '../visible-text';
import { ConfigError, type ConfigIssue, type KeyPath, keyPath } from './errors';
import { readFileUntil } from './secrets';

/**
 * A configuration file is a few KiB; past this it is not one (`--config /dev/zero` would
 * otherwise be read until memory runs out).
 */
const MAX_CONFIG_BYTES = 1024 * 1024;

const KEY_COLON = "a key needs ': ' (colon and space) before its value";

/**
 * What each of the yaml library's error codes means, in words of our own: the library's
 * messages quote the text they stumbled on, which may be a password (`password: *secret`
 * gives "Unresolved alias …: secret"), so they are never shown.
 */
const YAML_PROBLEMS: Readonly<Record<ErrorCode, string>> = {
  ALIAS_PROPS: 'an alias (*…) cannot carry an anchor or a tag',
  BAD_ALIAS:
    'malformed alias (a value starting with * is an alias): quote a value that starts with *',
  BAD_DIRECTIVE: 'malformed directive (a line starting with %)',
  BAD_DQ_ESCAPE:
    'invalid escape sequence in a double-quoted value: use single quotes for a value with backslashes',
  BAD_INDENT: 'wrong indentation, or a bracket or quote left open',
  BAD_PROP_ORDER: 'an anchor (&…) or tag (!…) in the wrong place',
  BAD_SCALAR_START:
    'a plain value cannot start with this character (such as @ or `): quote the value',
  BLOCK_AS_IMPLICIT_KEY: 'a nested block used as a key (a missing colon?)',
  BLOCK_IN_FLOW: 'an indented block inside [ ] or { }',
  DUPLICATE_KEY: 'duplicate key',
  IMPOSSIBLE: 'text the YAML reader cannot place',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters (a missing colon?)',
  MISSING_CHAR: 'a closing quote, bracket or brace is missing',
  MULTILINE_IMPLICIT_KEY: `a key that spans lines (${KEY_COLON}, or a closing quote is missing?)`,
  MULTIPLE_ANCHORS: 'more than one anchor (&…) on one value',
  MULTIPLE_DOCS:
    'a second YAML document starts here (---): the configuration is one document; merge the two, or remove this line and what follows',
  MULTIPLE_TAGS: 'more than one tag (!…) on one value',
  NON_STRING_KEY: 'a key that is not a plain name',
  RESOURCE_EXHAUSTION: 'aliases (*…) that expand to too many values',
  TAB_AS_INDENT: 'a tab used for indentation: indent with spaces',
  TAG_RESOLVE_FAILED:
    'unknown YAML tag (a value starting with ! is a tag): quote a value that starts with !',
  UNEXPECTED_TOKEN:
    'unexpected text (a value starting with | or > opens a block, one starting with * & ! % @ or ` is YAML syntax): quote the value',
  BAD_COLLECTION_TYPE: 'a tag that does not fit its mapping or list',
};

/**
 * Slips the library files under a code that mostly means something else, told apart by the
 * start of its message, which is matched, never shown: a key left without `: `
 * (`password:x`) and a key indented less than the one above it are "missing characters", as a
 * missing closing quote is; a key indented more than the one above it reads as a second
 * `key: ` inside that key's value, as `password: a: b` does.
 */
const PROBLEMS_BY_MESSAGE: readonly (readonly [ErrorCode, string, string])[] = [
  ['MISSING_CHAR', 'Implicit map keys need to be followed', KEY_COLON],
  [
    'MISSING_CHAR',
    'Sequence item without - indicator',
    'a key indented less than the keys above it: line up the keys of a list item with the first one after `- `',
  ],
  ['RESOURCE_EXHAUSTION', 'Maximum call stack', 'lists or blocks nested too deeply to read'],
  [
    'BLOCK_AS_IMPLICIT_KEY',
    'Nested mappings are not allowed in compact mappings',
    "a second ': ' after this value: indent the next line like the keys beside it, or quote a value that holds ': '",
  ],
];

function problemOf({ code, message }: { code: ErrorCode; message: string }): string {
  const specific = PROBLEMS_BY_MESSAGE.find(
    ([c, start]) => c === code && message.startsWith(start),
  );
  return specific?.[2] ?? YAML_PROBLEMS[code];
}

/**
 * One problem per place: the library may report the same slip twice at one offset (a key
 * indented too far is also "a key that spans lines"), which would only contradict itself.
 */
function firstAtEachOffset<E extends { readonly pos: readonly [number, number] }>(
  errors: readonly E[],
): E[] {
  return errors.filter((e, i) => errors.findIndex((o) => o.pos[0] === e.pos[0]) === i);
}

/**
 * A tab used for indentation alone when there is one: the reader then places the lines after
 * it wrongly and reports slips the user never made (a second ': ' on a key written correctly).
 */
function mostTelling<E extends { readonly code: ErrorCode }>(errors: readonly E[]): readonly E[] {
  const tabs = errors.filter((e) => e.code === 'TAB_AS_INDENT');
  return tabs.length > 0 ? tabs : errors;
}

/** A duplicate key, with the line where that key was first given in its block. */
function duplicateKeyProblem(doc: Document, lines: LineCounter, offset: number): string {
  const { isScalar, visit } = yamlModule();
  let first: number | undefined;
  visit(doc, {
    Map: (_, map) => {
      const keys = map.items.map((pair) => (isScalar(pair.key) ? pair.key : undefined));
      const duplicate = keys.find((key) => key?.range?.[0] === offset);
      if (duplicate === undefined) return undefined;
      first = keys.find((key) => key?.value === duplicate.value)?.range?.[0];
      return visit.BREAK;
    },
  });
  return first === undefined || first === offset
    ? YAML_PROBLEMS.DUPLICATE_KEY
    : `${YAML_PROBLEMS.DUPLICATE_KEY}, given first on line ${lines.linePos(first).line}: keep one`;
}

/**
 * A `---` after the configuration: an editor's or a generator's leftover when nothing follows
 * it (only comments, or nothing at all), which the user can simply delete.
 */
function secondDocumentProblem(text: string): string {
  const [, ...rest] = yamlModule().parseAllDocuments(text, QUIET);
  return rest.every((d) => d.errors.length === 0 && d.toJS() == null)
    ? 'a second YAML document starts here (---), with nothing in it: remove this line'
    : YAML_PROBLEMS.MULTIPLE_DOCS;
}

/** An alias whose anchor is not defined before it (the library would quote its name). */
const UNRESOLVED_ALIAS =
  'an alias (a value starting with * is an alias) with no anchor (&…) defined before it: quote a value that starts with *';

/** Not echoed: an alias's text may be a value that starts with `*`. */
const SELF_ALIAS =
  'an alias (*…) inside the block its anchor (&…) names, a block that would hold itself without end: write the values out instead';

/** The library would throw on it when the document is read, as it does on too many aliases. */
const BAD_MERGE = 'a merge key (<<) takes an anchored mapping (<<: *defaults) or a list of them';

/**
 * Whether `pair` is other than a merge (`<<: …`), or one whose value is a mapping or a list
 * of mappings, each maybe through an alias. The reader marks a merge key by a symbol value.
 */
function mergesMappings(doc: Document, pair: Pair): boolean {
  const { isAlias, isMap, isScalar, isSeq } = yamlModule();
  if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol') return true;
  const resolved = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);
  const value = resolved(pair.value);
  const sources = isSeq(value) ? value.items.map(resolved) : [value];
  // An alias with no anchor is reported as such.
  return sources.every((source) => source === undefined || isMap(source));
}

function rangeOf(node: unknown): number {
  const { isNode } = yamlModule();
  return isNode(node) ? (node.range?.[0] ?? 0) : 0;
}

/**
 * The keys the configuration has at a path (`['users', 0]` → `name`, `password`, …). Only
 * these are named in a message: text the YAML reader took for a key may be a value
 * (`password Sup3rSecret` with its colon missing).
 */
export type KnownKeys = (path: KeyPath) => readonly string[];

/**
 * The reader's own warnings go to stderr as process warnings and quote the text they are
 * about: a block used as a key (`password: {{Sup3rSecret}}`) would print the password. What
 * such text means for the configuration is reported by the schema instead.
 */
const QUIET = { logLevel: 'error' } as const;

/**
 * Loaded on first use, not at the top: the common environment-only sidecar never reads YAML,
 * and yaml is among the costlier modules to load at start-up.
 */
function yamlModule(): typeof import('yaml') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('yaml') as typeof import('yaml');
}

/**
 * The content of the YAML configuration `file` (named by `setting`, `--config` or
 * `CONFIG_FILE`), or a `ConfigError` that says where it is wrong — by line, column and key
 * path, never by quoting the file, whose values include passwords. A FIFO (`<(…)`) is read to
 * its end; anything past `MAX_CONFIG_BYTES` is refused. `bytes` are the file's, read
 * beforehand (`readConfigFile`); without them the file is read now. A key with nothing under
 * it (`token:`) is `null` here; the schema decides what that means.
 */
export function readYamlFile(
  file: string,
  setting: string,
  knownKeys: KnownKeys,
  bytes: Buffer = readBounded(file, setting),
): unknown {
  const text = decodeUtf8(file, bytes);
  const yaml = yamlModule();
  const lines = new yaml.LineCounter();
  // merge: Helm-minded users write `<<: *defaults`; the alias limits apply to it as well.
  const doc = yaml.parseDocument(text, {
    ...QUIET,
    prettyErrors: false,
    lineCounter: lines,
    merge: true,
  });
  const at = (offset: number, problem: string, path = true): ConfigIssue =>
    located(file, lines, path ? doc : undefined, offset, problem, knownKeys);
  // Unknown tags are only warnings to the library, which then reads `!secret` as "".
  const problems = firstAtEachOffset(
    mostTelling([...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')]),
  ).map((e) => {
    if (e.code === 'DUPLICATE_KEY') return at(e.pos[0], duplicateKeyProblem(doc, lines, e.pos[0]));
    // A second document starts between the keys of the first, never inside one of them.
    if (e.code === 'MULTIPLE_DOCS') return at(e.pos[0], secondDocumentProblem(text), false);
    return at(e.pos[0], problemOf(e));
  });
  yaml.visit(doc, {
    Alias: (_, alias, ancestors) => {
      const anchored = alias.resolve(doc);
      if (anchored === undefined) problems.push(at(alias.range?.[0] ?? 0, UNRESOLVED_ALIAS));
      // The library builds such a block as one that holds itself: every reader of it then
      // recurses without end (`Maximum call stack size exceeded`, exit 1, no key named).
      else if (ancestors.includes(anchored)) problems.push(at(alias.range?.[0] ?? 0, SELF_ALIAS));
    },
    Pair: (_, pair) => {
      if (!mergesMappings(doc, pair)) problems.push(at(rangeOf(pair.key), BAD_MERGE));
    },
  });
  if (problems.length > 0) throw new ConfigError(problems);
  let value: unknown;
  try {
    value = doc.toJS();
  } catch {
    // The yaml library refuses documents whose aliases expand exponentially ("billion laughs").
    throw new ConfigError({ key: file, problem: YAML_PROBLEMS.RESOURCE_EXHAUSTION });
  }
  return topLevel(value, file, setting);
}

/**
 * The bytes of the YAML configuration `file` (named by `setting`), read without blocking the
 * main thread, as secret files are (`readFileUntil`), and given up on when `stop` aborts. A
 * file on a volume that stopped answering (a network or CSI mount gone away) otherwise held
 * the main thread, and with it the SIGTERM and SIGINT handlers of `run` and `inject`, for
 * good. No timeout: none is known before the file is read, and a FIFO (`--config <(…)`)
 * waits for its writer. A read left stuck is counted as a secret file's is
 * (`stuckSecretReads`), so a signal ends the process rather than wait for it.
 */
export async function readConfigFile(
  file: string,
  setting: string,
  stop: AbortSignal = new AbortController().signal,
): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFileUntil(
      file,
      () => readToEnd(file),
      stop,
      () => new Error(`${setting}: ${shownValue(file)} was not read: stopped`),
    );
  } catch (err) {
    if (stop.aborted) throw err;
    throw unreadable(file, setting, err);
  }
  return withinLimit(file, setting, bytes);
}

/**
 * At most `MAX_CONFIG_BYTES + 1` bytes of `file`, read to its end in one of Node's pool
 * threads. Opened blocking: a FIFO waits for its writer, as the shell's `<(…)` has one.
 */
async function readToEnd(file: string): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY);
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      ({ bytesRead: n } = await handle.read(buffer, length, buffer.length - length, null));
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * At most `MAX_CONFIG_BYTES + 1` bytes of `file`, read to its end (a FIFO too) on the main
 * thread: for a configuration loaded in code without its bytes read beforehand.
 */
function readBounded(file: string, setting: string): Buffer {
  const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
  let length = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
  } catch (err) {
    throw unreadable(file, setting, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return withinLimit(file, setting, buffer.subarray(0, length));
}

function unreadable(file: string, setting: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const why = code === 'EISDIR' ? ': it is a directory; give the path of the YAML file' : '';
  return new ConfigError({
    key: setting,
    problem: `cannot read ${shownValue(file)}${why} (${code})`,
  });
}

/** `bytes`, unless there are more than a configuration file holds. */
function withinLimit(file: string, setting: string, bytes: Buffer): Buffer {
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ConfigError({
      key: setting,
      problem: `${shownValue(file)} is too large for a configuration file (more than ${MAX_CONFIG_BYTES} bytes)`,
    });
  }
  return bytes;
}

/**
 * The file's text; bytes that are not UTF-8 are refused rather than turned into U+FFFD, which
 * would change a password without a word.
 */
function decodeUtf8(file: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidByte(bytes);
    const line = bytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1;
    throw new ConfigError({
      key: file,
      problem: `line ${line}: byte ${offset} (counted from 0) is not UTF-8; the file must be UTF-8 — a password in another encoding belongs in a file of its own (passwordFile), whose bytes are sent unchanged`,
    });
  }
}

/** The offset of the first byte that does not start a well-formed UTF-8 character. */
function firstInvalidByte(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i];
    const size =
      lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0;
    if (size === 0 || !isUtf8(bytes.subarray(i, i + size))) return i;
    i += size;
  }
  return i;
}

/**
 * An issue at `offset`: the file with line and column, and the key path in `doc` where it is
 * known (no `doc`: the place is in no key).
 */
function located(
  file: string,
  lines: LineCounter,
  doc: Document | undefined,
  offset: number,
  problem: string,
  knownKeys: KnownKeys,
): ConfigIssue {
  const { line, col } = lines.linePos(offset);
  const path =
    doc === undefined ? '' : shownKeyPath(keyPath(pathAt(doc.contents, offset, knownKeys)));
  return {
    key: file,
    problem: `line ${line}, column ${col}${path ? ` (${path})` : ''}: ${problem}`,
  };
}

/**
 * The key path of the innermost entry that holds `offset`: in each mapping or list, the last
 * entry starting at or before it, if its value reaches that far. It ends before a key the
 * configuration does not have, which is never named.
 */
function pathAt(node: unknown, offset: number, knownKeys: KnownKeys, path: KeyPath = []): KeyPath {
  const { isMap, isScalar, isSeq, isNode } = yamlModule();
  const range = (n: unknown) => (isNode(n) ? n.range : undefined) ?? undefined;
  const startsBefore = (n: unknown) => (range(n)?.[0] ?? Infinity) <= offset;
  const reaches = (n: unknown) => n === null || (range(n)?.[1] ?? -1) >= offset;
  if (isMap(node)) {
    const pair = node.items.findLast((p) => isScalar(p.key) && startsBefore(p.key));
    const key = pair !== undefined && isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key !== undefined && reaches(pair?.value ?? null) && knownKeys(path).includes(key)) {
      return pathAt(pair?.value, offset, knownKeys, [...path, key]);
    }
  }
  if (isSeq(node)) {
    const index = node.items.findLastIndex(startsBefore);
    if (index >= 0 && reaches(node.items[index])) {
      return pathAt(node.items[index], offset, knownKeys, [...path, index]);
    }
  }
  return path;
}

/** The top level must be a mapping; an empty file says so rather than "received null". */
function topLevel(value: unknown, file: string, setting: string): unknown {
  if (value === null || value === undefined) {
    throw new ConfigError({
      key: setting,
      problem: `${shownValue(file)} is empty (no configuration in it; see the README for an example)`,
    });
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'a list' : 'a single value';
    throw new ConfigError({
      key: setting,
      problem: `${shownValue(file)}: the top level must be a mapping (vidispine:, users:, …), not ${what}`,
    });
  }
  return value;
}
