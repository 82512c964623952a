import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Opening never waits for a writer: a FIFO put where a file should be would otherwise block
 * the opening thread until something writes to it.
 */
const OPEN_NONBLOCKING = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * The bytes of `file`, read whole in Node's pool threads, for a file read once at start
 * (`vidispine.caFile`, the webhook's serving pair). Only a regular file (or a symbolic link to
 * one) is read, else `notRegular()` is thrown: a device such as /dev/zero never ends, and
 * read whole it fills memory.
 */
export async function readRegularFile(file: string, notRegular: () => Error): Promise<Buffer> {
  const handle = await open(file, OPEN_NONBLOCKING);
  try {
    if (!(await handle.stat()).isFile()) throw notRegular();
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * `readRegularFile` on the calling thread: for a configuration built in code, whose files are
 * read when it is used (`trustedCas`), and the webhook's reloads of its serving pair.
 */
export function readRegularFileSync(file: string, notRegular: () => Error): Buffer {
  const fd = openSync(file, OPEN_NONBLOCKING);
  try {
    if (!fstatSync(fd).isFile()) throw notRegular();
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
