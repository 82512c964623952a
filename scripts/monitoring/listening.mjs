// The `listening` log line of a child started from the built CLI (JSON lines on stdout, at
// info): where it listens, or why it never did.

/**
 * `listening`: the first `listening` line `child` writes, parsed; rejected, with its stderr,
 * if it exits first (lines that are not JSON are skipped). `stderr`: what it wrote there so far.
 * `stop`: SIGTERM, resolved once it has exited (at once if it already has).
 */
export function watchChild(child, what) {
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const listening = new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      for (let nl; (nl = buffered.indexOf('\n')) >= 0;) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue; // not a log line
        }
        if (entry.event === 'listening') resolve(entry);
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}):\n${stderr}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      // A child a signal ended has no exit code, only a signal code.
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { listening, stderr: () => stderr, stop };
}
