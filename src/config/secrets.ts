import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { abortable } from '../abortable';
import { shownValue } from '../visible-text';
import type { SecretSource } from './types';

/** Reading a secret failed; the message names the source, never a value. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

/** A password or access key secret is a few dozen bytes; anything past this is not one. */
export const MAX_SECRET_BYTES = 4096;

/**
 * Opening never waits for a writer: a FIFO put where a secret file should be would otherwise
 * block the opening thread until something writes to it.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * The secret's current bytes, exactly as stored: a file is read on every call, so a rotated
 * Kubernetes Secret mounted as a file takes effect at the next mint (an environment variable
 * is looked up too, but a process's environment never changes: only a restart rotates it). A file must be a
 * regular file (a symbolic link to one is fine: Kubernetes mounts Secrets that way) of at
 * most `MAX_SECRET_BYTES`; it is read without blocking the event loop. Trailing CR/LF bytes
 * are dropped (files written by `echo` or editors end in a newline), and so is a UTF-8 byte
 * order mark at the start (Notepad, PowerShell 5); every other byte is kept, whatever its
 * encoding. An empty result is an error.
 */
export async function readSecret(source: SecretSource, env: NodeJS.ProcessEnv): Promise<Buffer> {
  if (source.kind !== 'file') return fromText(source, env);
  let handle;
  try {
    handle = await open(source.path, OPEN_FLAGS);
  } catch (err) {
    throw unreadable(source, err);
  }
  try {
    checkRegular(source, await handle.stat());
    const buffer = Buffer.alloc(MAX_SECRET_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return secretBytes(source, buffer.subarray(0, bytesRead));
  } catch (err) {
    throw err instanceof SecretError ? err : unreadable(source, err);
  } finally {
    await handle.close();
  }
}

/** A secret file was not read before the reader gave up: its volume did not answer. */
export class SecretTimeoutError extends SecretError {}

/**
 * A secret file's read was not started, so as not to hold one more of Node's pool threads:
 * the message says which reads have not come back.
 */
export class SecretReadHeldError extends SecretTimeoutError {}

/** A read of one secret file, shared by everyone who waits for it. */
class SecretRead {
  /** Whether it holds a pool thread yet: it waits for the read before it in its folder. */
  started = false;
  readonly bytes: Promise<Buffer>;

  constructor(after: Promise<unknown>, read: () => Promise<Buffer>) {
    this.bytes = after.then(() => {
      this.started = true;
      return read();
    });
  }
}

/**
 * Reads of secret files under way, by path. A read of a stuck volume (a network or CSI mount
 * that stopped answering) holds one of the threads of Node's pool (four unless
 * UV_THREADPOOL_SIZE says otherwise) until the kernel gives up, and with them DNS lookups and
 * every other file read: a retry joins it rather than take another thread.
 */
const readsUnderWay = new Map<string, SecretRead>();

/**
 * The last read started in each folder. A folder's files share a volume (a Secret or CSI
 * mount has one folder), so its reads go one after the other: a volume that stops answering
 * then holds one pool thread, however many users' secrets it holds. A healthy volume's reads
 * take microseconds, and waiting for one costs nothing. An entry is kept once settled: one per
 * folder the configuration names.
 */
const lastReadIn = new Map<string, Promise<unknown>>();

/** Reads under way that a reader gave up on: each holds a pool thread in a volume that hangs. */
const readsGivenUp = new Set<SecretRead>();

/**
 * How many secret file reads are stuck: under way, and given up on at a mint timeout. Node's
 * exit waits for every pool thread, and so never ends while one is (`ops/shutdown`).
 */
export function stuckSecretReads(): number {
  return readsGivenUp.size;
}

/**
 * Settles once every read `stuckSecretReads` counts has come back, whatever it read: never
 * while one is stuck. A read given up because its mint was stopped (the shutdown) may merely
 * be slow.
 */
export function stuckSecretReadsBack(): Promise<unknown> {
  return Promise.allSettled([...readsGivenUp].map((read) => read.bytes));
}

/** The most threads libuv's pool has, whatever UV_THREADPOOL_SIZE says. */
const MAX_POOL_THREADS = 1024;

/**
 * libuv's pool size: UV_THREADPOOL_SIZE as libuv reads it, with atoi into an unsigned number
 * (4 unset): a text that starts with no digits is 0, taken as 1 thread, and a negative number
 * is a huge one, taken as the most libuv allows.
 */
export function poolThreads(setting: string | undefined): number {
  if (setting === undefined) return 4;
  const threads = Number.parseInt(setting, 10);
  if (Number.isNaN(threads)) return 1;
  if (threads < 0) return MAX_POOL_THREADS;
  return Math.min(Math.max(threads, 1), MAX_POOL_THREADS);
}

/**
 * How many pool threads stuck secret reads may hold: half, so that DNS lookups (every new
 * connection to Vidispine by name) and the other reads keep the rest.
 */
export function stuckReadLimit(threads: number): number {
  return Math.max(1, Math.floor(threads / 2));
}

const STUCK_READ_LIMIT = stuckReadLimit(poolThreads(process.env.UV_THREADPOOL_SIZE));

/** A read of `path` once the reads before it in its folder have settled. */
function startRead(path: string, readFile: () => Promise<Buffer>): SecretRead {
  const folder = dirname(path);
  const read = new SecretRead(lastReadIn.get(folder) ?? Promise.resolve(), readFile);
  const settled = read.bytes.then(
    () => undefined,
    () => undefined,
  );
  lastReadIn.set(folder, settled);
  readsUnderWay.set(path, read);
  void settled.then(() => {
    readsUnderWay.delete(path);
    readsGivenUp.delete(read);
  });
  return read;
}

/** Refuses to start a read while stuck reads hold as many pool threads as they may. */
function refuseWhenHeld(source: SecretSource): void {
  const stuck = readsGivenUp.size;
  if (stuck < STUCK_READ_LIMIT) return;
  throw new SecretReadHeldError(
    failure(
      source,
      `${where(source)} was not read: ${stuck} reads of other secret files have not come back, and another would take a thread that DNS lookups need; are their volumes stuck?`,
    ).message,
  );
}

/**
 * `readSecret`, given up on with a `SecretTimeoutError` when `signal` aborts (the mint's
 * timeout); a read of the same file still under way is joined, and one of another file in
 * the same folder is waited for (`lastReadIn`).
 */
export function readSecretUntil(
  source: SecretSource,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<Buffer> {
  if (source.kind !== 'file') return readSecret(source, env);
  const read = () => {
    refuseWhenHeld(source);
    return readSecret(source, env);
  };
  return readFileUntil(source.path, read, signal, (how) =>
    how === 'held'
      ? new SecretReadHeldError(
          failure(
            source,
            `${where(source)} was not read: the read of another secret file in its folder has not come back; is their volume stuck?`,
          ).message,
        )
      : new SecretTimeoutError(failure(source, `${where(source)} was not read`).message),
  );
}

/** Why a reader gave up on a file: its read waited for another in its folder, or is stuck. */
export type GivenUp = 'held' | 'stuck';

/**
 * `readFile()` of `path`, read as secret files are (joined while under way, after the reads
 * before it in its folder, counted by `stuckSecretReads` once given up on), and given up on
 * with `givenUp`'s error when `signal` aborts: for another file read at start, such as
 * `vidispine.caFile`, on a volume that may hang as a Secret's may.
 */
export function readFileUntil(
  path: string,
  readFile: () => Promise<Buffer>,
  signal: AbortSignal,
  givenUp: (how: GivenUp) => Error,
): Promise<Buffer> {
  const read = readsUnderWay.get(path) ?? startRead(path, readFile);
  return abortable(read.bytes, signal).catch((err: unknown) => {
    if (!signal.aborted) throw err;
    if (!read.started) throw givenUp('held');
    if (readsUnderWay.get(path) === read) readsGivenUp.add(read);
    throw givenUp('stuck');
  });
}

/** A secret given as a value or in a variable: nothing to read, so it is checked at once. */
export type TextSecretSource = Exclude<SecretSource, { kind: 'file' }>;

/**
 * The same as `readSecret`, synchronously, for validating the configuration at start. Only a
 * value or a variable: a file is read with `readSecretUntil`, since its volume may hang and a
 * synchronous read would hold the main thread, and with it the signals that should end it.
 */
export function readSecretNow(source: TextSecretSource, env: NodeJS.ProcessEnv): Buffer {
  return fromText(source, env);
}

function fromText(source: TextSecretSource, env: NodeJS.ProcessEnv) {
  const value = source.kind === 'literal' ? source.value : env[source.name];
  if (value === undefined) throw failure(source, `${where(source)} is not set`);
  // Node decodes the environment as UTF-8 and puts U+FFFD where bytes are not, so a Latin-1
  // password would be sent changed and fail as a wrong one; a file is sent byte for byte.
  if (value.includes(REPLACEMENT_CHARACTER)) {
    throw failure(
      source,
      `${where(source)} holds U+FFFD, the mark of bytes that are not UTF-8, and would not be sent as written: put the secret in a file (${fileSetting(source)}), whose bytes are sent unchanged`,
    );
  }
  // Stryker disable next-line StringLiteral: Buffer.from reads no encoding as UTF-8 too
  return secretBytes(source, Buffer.from(value, 'utf8'));
}

const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * The setting that reads the same secret from a file. A variable's name has no lower-case
 * letter and its file twin adds `_FILE` (`VIDISPINE_PASSWORD_FILE`); a YAML key's twin ends
 * in `File` instead of nothing or `Env` (`users[0].passwordFile` for `users[0].password` and
 * `users[0].passwordEnv`, the only keys that name a variable).
 */
function fileSetting(source: Exclude<SecretSource, { kind: 'file' }>): string {
  const setting = source.setting;
  if (setting === undefined) return 'a passwordFile or secretFile';
  if (!/[a-z]/.test(setting)) return `${setting}_FILE`;
  return `${source.kind === 'env' ? setting.slice(0, -'Env'.length) : setting}File`;
}

function checkRegular(source: SecretSource, stats: Stats): void {
  if (!stats.isFile()) {
    throw failure(
      source,
      `${where(source)} is not a regular file (a FIFO, device or directory is never read)`,
    );
  }
}

/** U+FEFF in UTF-8: the byte order mark Notepad or PowerShell 5 put at the start of a file. */
const BYTE_ORDER_MARK = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * What editors add dropped — one byte order mark at the start, CR/LF at the end — since no
 * one typing the password typed them; empty and oversized secrets refused.
 */
function secretBytes(source: SecretSource, bytes: Buffer): Buffer {
  if (bytes.length > MAX_SECRET_BYTES) {
    throw failure(source, `${where(source)} is larger than ${MAX_SECRET_BYTES} bytes`);
  }
  const start = bytes.subarray(0, BYTE_ORDER_MARK.length).equals(BYTE_ORDER_MARK)
    ? BYTE_ORDER_MARK.length
    : 0;
  let end = bytes.length;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: bytes[start - 1] is undefined or the mark's last byte, which ends the loop too
  while (end > start && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end -= 1;
  if (end === start) throw failure(source, `${where(source)} is empty`);
  return bytes.subarray(start, end);
}

function unreadable(source: SecretSource, err: unknown): SecretError {
  // Stryker disable next-line StringLiteral: every error of node:fs has a code; this names any other
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return failure(source, `cannot read ${where(source)} (${code})`);
}

/**
 * What a variable's name looks like by convention: capitals, digits and `_`. A lower-case word
 * (`hunter2`) is a password as often as a name, so anything else in a `*Env` key may be the
 * secret itself.
 */
const VARIABLE_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * What a file setting looks like: a path from the root or from `.`. A `/` elsewhere is no
 * sign of a path: a password made with `openssl rand -base64` often holds one.
 */
const FILE_PATH = /^\.{0,2}\//;

/**
 * Whether a file setting's value looks like a path (`FILE_PATH`): one that does not may be the
 * secret itself (a Secret's key mapped to the variable, not mounted), and is not shown.
 */
export function looksLikeFilePath(value: string): boolean {
  return FILE_PATH.test(value);
}

/**
 * Whether the file or variable a source names may be shown: a secret put by mistake in a
 * `*File` or `*Env` key (a Secret mapped to the `_FILE` variable) must not be.
 */
function shown(source: SecretSource): boolean {
  switch (source.kind) {
    case 'file':
      return looksLikeFilePath(source.path);
    case 'env':
      return VARIABLE_NAME.test(source.name);
    default:
      return true;
  }
}

/** Where the value is, for a message that already names the setting (`VIDISPINE_PASSWORD_FILE: …`). */
function where(source: SecretSource): string {
  switch (source.kind) {
    case 'literal':
      return 'the value';
    case 'file':
      return shown(source) ? `file ${shownValue(source.path)}` : 'the file named';
    case 'env':
      return shown(source)
        ? `environment variable ${shownValue(source.name)}`
        : 'the variable named';
  }
}

/** A problem with a source; when its file or variable is not shown, why not. */
function failure(source: SecretSource, message: string): SecretError {
  if (shown(source)) return new SecretError(message);
  const looks = source.kind === 'file' ? 'a file path' : 'a variable name';
  return new SecretError(
    `${message}; the value does not look like ${looks} (is it the secret itself? it is not shown)`,
  );
}

/**
 * Where the secret lives and which setting put it there, for runtime messages that tell the
 * operator what to fix: `VIDISPINE_PASSWORD`, `file /run/secrets/pw (users[0].passwordFile)`.
 */
export function describeSecret(source: SecretSource): string {
  const setting = source.setting ?? 'the configuration';
  return source.kind === 'literal' ? setting : `${where(source)} (${setting})`;
}
