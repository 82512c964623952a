/**
 * `vidispine.caFile`, read once before anything listens, as the secret files are
 * (`secret-files.ts`): without blocking the main thread and bounded by the mint timeout. A
 * synchronous read of a volume that stopped answering (a network or CSI mount) held the main
 * thread, and with it SIGTERM and SIGINT, for good. The bytes read are the ones every TLS
 * connection to Vidispine verifies against (`trustedCas`): the file is not read again.
 */
import { X509Certificate } from 'node:crypto';
import { shownValue } from '../visible-text';
import { ConfigError } from './errors';
import { readRegularFile } from './regular-file';
import { SecretVolumeError, startReadBound } from './secret-files';
import { readFileUntil } from './secrets';
import type { StartFiles } from './types';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** What is wrong with a CA file's text: it must hold PEM certificates, and every one must parse. */
export function caFileProblems(file: string, pem: string): string[] {
  const shownFile = shownValue(file);
  const certificates = pem.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    return [`${shownFile} holds no PEM certificate (-----BEGIN CERTIFICATE----- …)`];
  }
  return certificates.flatMap((certificate, i) => {
    try {
      new X509Certificate(certificate);
      return [];
    } catch {
      return [`certificate ${i + 1} in ${shownFile} cannot be parsed`];
    }
  });
}

/** A CA file that is a FIFO, a device or a directory: refused unread. */
class NotRegularError extends Error {}

/**
 * The bytes of `vidispine.caFile`, read within `vidispine.mintTimeoutSeconds` or until `stop`
 * aborts; undefined when no file is named. Throws a `ConfigError` naming the key for a file
 * that cannot be read or holds no usable certificate, a `SecretVolumeError` for one not read
 * in time (its read, stuck in its volume, is counted as a secret file's is, so the process
 * ends by a signal rather than wait for it).
 */
export async function readCaFile(
  start: StartFiles,
  stop?: AbortSignal,
): Promise<Buffer | undefined> {
  const file = start.caFile;
  if (file === undefined) return undefined;
  const key = start.names.name(['vidispine', 'caFile']);
  const { signal, within } = startReadBound(start, stop);
  let ca: Buffer;
  try {
    ca = await readFileUntil(
      file,
      () => readRegularFile(file, () => new NotRegularError()),
      signal,
      (how) =>
        new SecretVolumeError(
          how === 'held'
            ? `${key}: file ${shownValue(file)} was not read: the read of a secret file in its folder has not come back; is their volume stuck?`
            : `${key}: file ${shownValue(file)} was not read ${within}: is its volume stuck?`,
        ),
    );
  } catch (err) {
    if (err instanceof SecretVolumeError) throw err;
    if (err instanceof NotRegularError) {
      const problem = `file ${shownValue(file)} is not a regular file (a FIFO, device or directory is never read)`;
      throw new ConfigError({ key, problem });
    }
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError({ key, problem: `cannot read file ${shownValue(file)} (${code})` });
  }
  const problems = caFileProblems(file, ca.toString('latin1'));
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => ({ key, problem })));
  return ca;
}
