// A real Prometheus server for the monitoring check: a temporary data directory, a given
// scrape configuration, and the HTTP API calls the check makes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A port nothing listens on now (the kernel's pick, released at once). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `prometheus` with `config` (an object, written as YAML) and `files` beside it
 * (name → text, e.g. rule files), and waits until it is ready.
 */
export async function startPrometheus({ config, files = {}, binary = 'prometheus' }) {
  const dir = mkdtempSync(join(tmpdir(), 'vap-prometheus-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (log += d));
  let spawnError;
  const exited = new Promise((resolve) => {
    child.once('exit', resolve);
    child.once('error', (err) => {
      spawnError =
        err.code === 'ENOENT'
          ? new Error(`${binary} is not installed (Debian: apt-get install prometheus)`)
          : err;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && !spawnError) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (spawnError) {
      rmSync(dir, { recursive: true, force: true });
      throw spawnError;
    }
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${child.exitCode}):\n${log}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  /** GET /api/v1/<path>; the `data` of a success, an error naming Prometheus's reason. */
  const api = async (path, params = {}) => {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = await res.json();
    if (body.status !== 'success') {
      throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    }
    return body.data;
  };

  return {
    url,
    log: () => log,
    stop,
    api,
    /** A range query: [{ metric, values: [[unixSeconds, "value"], ...] }]. */
    queryRange: (query, start, end, step) =>
      api('query_range', {
        query,
        start: String(start),
        end: String(end),
        step: String(step),
      }).then((d) => d.result),
  };
}
