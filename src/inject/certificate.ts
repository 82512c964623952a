/**
 * The serving certificate, read from files and read again when they change: cert-manager
 * (or the kubelet updating a Secret volume) swaps them under a running webhook, and new
 * connections must get the new pair without a restart. Changes are noticed by a directory
 * watch (immediate) and a periodic check (for file systems where watching is unreliable);
 * a pair that does not load — half written, key not matching, a FIFO in place of a file —
 * is reported and the one in use stays until a good pair appears.
 */
import { shownValue } from '../visible-text';
import { watch, type FSWatcher } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { readRegularFile, readRegularFileSync } from '../config/regular-file';
import { looksLikeFilePath, readFileUntil } from '../config/secrets';

/**
 * What the webhook serves with: TLS 1.2 or newer; in 1.2, only suites with forward secrecy
 * and an AEAD cipher (Mozilla's "intermediate" list; the API server's Go client offers them).
 * Node's default would also take CBC suites and plain RSA key exchange. TLS 1.3's suites
 * are all of that kind and stay Node's.
 */
export const SERVING_TLS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
} as const;

export interface CertificateFiles {
  /** PEM certificate (chain), e.g. a `kubernetes.io/tls` Secret's tls.crt. */
  readonly certFile: string;
  /** PEM private key, e.g. tls.key. */
  readonly keyFile: string;
}

export interface LoadedCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly notAfter: Date;
  readonly subject: string;
  readonly fingerprint256: string;
}

/**
 * A file of the pair as a message names it: its path, unless the value does not look like one
 * (`looksLikeFilePath`), when it may be the key itself, pasted where its path goes (the first
 * 200 characters of a PEM key hold all of an EC one), and is not shown.
 */
export function shownFile(file: string): string {
  return looksLikeFilePath(file)
    ? shownValue(file)
    : 'the file named (not shown: the value does not look like a file path; is it the key itself?)';
}

/** Which setting of the pair names a file: one path may serve as both. */
export type PairRole = keyof CertificateFiles;

/**
 * A pair that cannot serve; the message names the file and the problem, never key material.
 * `role` is the setting at fault, which the path alone cannot tell when both name one file.
 */
export class CertificateError extends Error {
  constructor(
    readonly role: PairRole,
    readonly file: string,
    problem: string,
  ) {
    super(`${shownFile(file)}: ${problem}`);
    this.name = 'CertificateError';
  }
}

/** A file of the pair not read before the reader gave up: its volume may not answer. */
export class CertificateUnreadError extends Error {
  constructor(
    readonly role: PairRole,
    readonly file: string,
  ) {
    super(`${shownFile(file)} was not read: stopped`);
    this.name = 'CertificateUnreadError';
  }
}

/**
 * Opened without waiting for a writer, and refused unread unless it is a regular file (a
 * symbolic link to one is fine: Secret volumes link their files through `..data`): reading a
 * FIFO would block the process until something writes to it, a device perhaps for ever.
 */
function read(files: CertificateFiles, role: PairRole): Buffer {
  const file = files[role];
  try {
    return readRegularFileSync(file, () => notRegular(role, file));
  } catch (err) {
    throw err instanceof CertificateError ? err : cannotRead(role, file, err);
  }
}

function notRegular(role: PairRole, file: string): CertificateError {
  return new CertificateError(
    role,
    file,
    'not a regular file (a FIFO, device or directory is never read)',
  );
}

/**
 * `read`, in one of Node's pool threads, through the secret files' machinery
 * (`readFileUntil`), given up on when `stop` aborts: for the pair loaded at start, when a
 * volume that stopped answering must not hold the main thread, and with it the handlers of
 * SIGTERM and SIGINT. A read left stuck is counted as a secret file's is
 * (`stuckSecretReads`), so a signal ends the process rather than wait for it. The reloads
 * while serving stay synchronous: a Secret volume is in memory.
 */
async function readUntil(
  files: CertificateFiles,
  role: PairRole,
  stop: AbortSignal,
): Promise<Buffer> {
  const file = files[role];
  try {
    return await readFileUntil(
      file,
      () => readRegularFile(file, () => notRegular(role, file)),
      stop,
      () => new CertificateUnreadError(role, file),
    );
  } catch (err) {
    if (stop.aborted || err instanceof CertificateError) throw err;
    throw cannotRead(role, file, err);
  }
}

/**
 * The pair in `files`, read without blocking the main thread and checked as `loadCertificate`
 * does; a `CertificateError` names the file at fault. Given up on when `stop` aborts.
 */
export async function loadCertificateUntil(
  files: CertificateFiles,
  stop: AbortSignal,
): Promise<LoadedCertificate> {
  const cert = await readUntil(files, 'certFile', stop);
  const key = await readUntil(files, 'keyFile', stop);
  return certificateOf(files, cert, key);
}

function cannotRead(role: PairRole, file: string, err: unknown): CertificateError {
  return new CertificateError(
    role,
    file,
    `cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
  );
}

/** OpenSSL's reason for refusing PEM input ("bad end line"): never the input itself. */
function reasonOf(err: unknown, otherwise = 'not PEM'): string {
  const reason = err instanceof Error && 'reason' in err ? err.reason : undefined;
  return typeof reason === 'string' ? reason : otherwise;
}

/** The reason, else the error's code or kind: a message might quote what it was given. */
function refusalOf(err: unknown): string {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  const kind = typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
  return reasonOf(err, kind);
}

export function loadCertificate(files: CertificateFiles): LoadedCertificate {
  return certificateOf(files, read(files, 'certFile'), read(files, 'keyFile'));
}

/** The pair read from `files`, checked: it parses, matches, and its chain loads. */
function certificateOf(
  { certFile, keyFile }: CertificateFiles,
  cert: Buffer,
  key: Buffer,
): LoadedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new CertificateError('certFile', certFile, 'not a PEM certificate');
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw new CertificateError('keyFile', keyFile, 'not a PEM private key');
  }
  if (!matches)
    throw new CertificateError(
      'keyFile',
      keyFile,
      `does not match the certificate in ${shownFile(certFile)}`,
    );
  // The checks above read only the first certificate; the server reads the whole chain, and
  // a chain cut off behind a good leaf (a renewal caught half written) fails only there.
  try {
    createSecureContext({ ...SERVING_TLS, cert, key });
  } catch (err) {
    throw new CertificateError(
      'certFile',
      certFile,
      `the certificate chain does not load (${reasonOf(err)})`,
    );
  }
  return {
    cert,
    key,
    notAfter: new Date(x509.validTo),
    subject: x509.subject,
    fingerprint256: x509.fingerprint256,
  };
}

export interface WatchOptions {
  /**
   * A new pair loaded. Throwing refuses it: reported through `onError` once, the pair in use
   * stays, and the refused one is offered again at the next check.
   */
  readonly onLoad: (loaded: LoadedCertificate) => void;
  /** The files changed but do not load; reported once per content. */
  readonly onError: (error: CertificateError) => void;
  /** After `onError`, the files are back to the pair in use (nothing new to load). */
  readonly onRestored?: () => void;
  /** Periodic check, default 10 s. */
  readonly checkIntervalMs?: number;
  /** Both files are usually replaced together: wait this long after the first event. */
  readonly settleMs?: number;
}

export interface CertificateWatch {
  /** Checks the files now (also what the watch and the timer call). */
  check(): void;
  stop(): void;
}

/**
 * Watches the files of `current` (the pair loaded at start) and calls `onLoad` with each new
 * pair. Timers and watchers are unref'd: they never keep the process alive.
 */
export function watchCertificate(
  files: CertificateFiles,
  current: LoadedCertificate,
  options: WatchOptions,
): CertificateWatch {
  let inUse = current;
  // The last content that failed; a pair that loaded but was refused is offered again.
  let failedWith: { cert: Buffer; key: Buffer; offerAgain: boolean } | undefined;
  let settle: NodeJS.Timeout | undefined;

  const check = (): void => {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = read(files, 'certFile');
      key = read(files, 'keyFile');
    } catch {
      cert = Buffer.alloc(0);
      key = Buffer.alloc(0);
    }
    if (cert.equals(inUse.cert) && key.equals(inUse.key)) {
      if (failedWith) {
        failedWith = undefined;
        options.onRestored?.();
      }
      return;
    }
    const failedBefore =
      failedWith !== undefined && cert.equals(failedWith.cert) && key.equals(failedWith.key);
    if (failedBefore && !failedWith?.offerAgain) return;
    let loaded: LoadedCertificate;
    try {
      loaded = loadCertificate(files);
    } catch (err) {
      failedWith = { cert, key, offerAgain: false };
      options.onError(
        err instanceof CertificateError
          ? err
          : new CertificateError('certFile', files.certFile, `does not load (${refusalOf(err)})`),
      );
      return;
    }
    try {
      options.onLoad(loaded);
    } catch (err) {
      // Whatever refused a pair that loaded (the server's setSecureContext) is failing like a
      // pair that does not load — the one in use stays, reported once — never an exception
      // out of a timer or a watch, which would end the webhook and with it every review.
      // Only a pair the server took is in use: one it refused is offered again.
      if (!failedBefore)
        options.onError(
          new CertificateError(
            'certFile',
            files.certFile,
            `the server did not take the pair (${refusalOf(err)})`,
          ),
        );
      failedWith = { cert, key, offerAgain: true };
      return;
    }
    inUse = loaded;
    failedWith = undefined;
  };
  const soon = (): void => {
    clearTimeout(settle);
    settle = setTimeout(check, options.settleMs ?? 200);
    settle.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(files.certFile), dirname(files.keyFile)])) {
    try {
      const w = watch(dir, { persistent: false }, soon);
      // A watch that breaks (the folder replaced) leaves the periodic check to notice.
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // Not watchable here: the periodic check alone.
    }
  }
  const timer = setInterval(check, options.checkIntervalMs ?? 10_000);
  timer.unref();

  return {
    check,
    stop() {
      clearInterval(timer);
      clearTimeout(settle);
      for (const w of watchers) w.close();
    },
  };
}
