/**
 * Preloaded into a child proxy (NODE_OPTIONS=--require): the files named in STUCK_VOLUME
 * (separated by ':') behave as on a network or CSI volume that stopped answering. Each is a
 * FIFO no one writes to, opened as a regular file on such a volume is: O_NONBLOCK, which
 * does nothing for a regular file, is dropped, so opening it blocks the thread that opens it
 * (one of libuv's pool threads, or the main thread for a synchronous open) until something
 * opens the FIFO for writing (the volume answering at last), or for good. Each
 * such open logs `{"event":"test_volume_stuck"}` first, so a test knows the process is in it
 * (a test can count them too: a regular file named there opens as ever). `readFileSync` of a
 * named path opens it through `openSync`, as Node's own does without a word. With
 * STUCK_VOLUME_ANSWERS_ON (a signal's name), the volume answers just after that signal, as a
 * slow one does: each file named is written with STUCK_VOLUME_TEXT, read by the open waiting.
 */
const fs = require('node:fs');

const stuck = new Set((process.env.STUCK_VOLUME ?? '').split(':').filter(Boolean));
const blocking = (path, flags) => {
  if (!stuck.has(String(path))) return flags;
  process.stdout.write(`${JSON.stringify({ event: 'test_volume_stuck', path: String(path) })}\n`);
  // A flag string ('r') never asks for O_NONBLOCK: such an open blocks as it is.
  return typeof flags === 'number' ? flags & ~fs.constants.O_NONBLOCK : flags;
};

const open = fs.promises.open;
fs.promises.open = (path, flags, ...rest) => open(path, blocking(path, flags), ...rest);
const openSync = fs.openSync;
fs.openSync = (path, flags, ...rest) => openSync(path, blocking(path, flags), ...rest);
const openAsync = fs.open;
fs.open = (path, flags, ...rest) => openAsync(path, blocking(path, flags), ...rest);
const readFileSync = fs.readFileSync;
fs.readFileSync = (path, ...rest) => {
  if (typeof path !== 'string' || !stuck.has(path)) return readFileSync(path, ...rest);
  const fd = fs.openSync(path, fs.constants.O_RDONLY);
  try {
    return readFileSync(fd, ...rest);
  } finally {
    fs.closeSync(fd);
  }
};

const answersOn = process.env.STUCK_VOLUME_ANSWERS_ON;
if (answersOn) {
  // Registered first, so it runs before the program's own handlers of the signal.
  process.once(answersOn, () => {
    for (const path of stuck) {
      // The unwrapped open: the writer stands for the volume, not for the program.
      openAsync(path, fs.constants.O_WRONLY, (err, fd) => {
        if (err) return;
        fs.write(fd, process.env.STUCK_VOLUME_TEXT ?? '', () => fs.close(fd, () => {}));
      });
    }
  });
}
