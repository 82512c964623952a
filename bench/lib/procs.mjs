// Child processes of the benchmark: started in their own process group, tracked, and
// killed (with everything they spawned) when the harness exits, fails or is interrupted;
// its temporary directories likewise removed.
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import {
  accessSync,
  constants,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { once } from 'node:events';
import { request } from 'node:http';

const live = new Set();
const STDERR_TAIL = 4096;

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

const tempDirs = new Set();

/** A new directory in the system's temporary directory, removed by `killAll` if still there. */
export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Kills every child, then removes the temporary directories (they may be in use until then). */
export function killAll() {
  for (const proc of live) killGroup(proc.child, 'SIGKILL');
  live.clear();
  for (const dir of tempDirs) removeTempDir(dir);
}

let handlersInstalled = false;
/** Kills every child and removes the temporary directories on exit, Ctrl-C, SIGTERM, SIGHUP or an uncaught error. */
export function installCleanup(program = 'bench') {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\n${program}: ${signal}, stopping everything\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${program}: ${err.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
}

/** Wraps a command so it runs with a raised open-file limit (when the system allows). */
function withFileLimit(command, args, nofile) {
  if (nofile === undefined) return [command, args];
  const script = `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  return ['/bin/sh', ['-c', script, command, ...args]];
}

/**
 * Starts a tracked child. `exec` replaces the shell wrapper, so `pid` is the program itself.
 * Returns { name, child, pid, exited, stderrTail(), stop() }. `exited` resolves with the exit
 * code, or the signal that ended it (-1 if it never started). `stop(graceMs)`: SIGTERM, SIGKILL
 * after `graceMs`; resolves with what `exited` did, or 'timeout' when it took the SIGKILL.
 */
export function startProcess(name, command, args, options = {}) {
  const [cmd, argv] = withFileLimit(command, args, options.nofile);
  const child = spawn(cmd, argv, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let tail = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    tail = (tail + d).slice(-STDERR_TAIL);
  });
  const proc = {
    name,
    child,
    pid: child.pid,
    exitCode: undefined,
    stderrTail: () => tail.trim(),
    exited: new Promise((resolve) => {
      child.on('error', (err) => {
        tail += `\n${err.message}`;
        resolve(-1);
      });
      child.on('exit', (code, signal) => resolve(code ?? signal));
    }),
    async stop(graceMs = 3000) {
      // Settled for good at the exit: a child already ended (a signal too) is not waited for.
      if (proc.exitCode !== undefined) return proc.exitCode;
      killGroup(child, 'SIGTERM');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child, 'SIGKILL');
      }, graceMs);
      const code = await proc.exited;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // leftovers of the group, e.g. nginx workers
      return timedOut ? 'timeout' : code;
    },
  };
  live.add(proc);
  proc.exited.then((code) => {
    proc.exitCode = code;
    live.delete(proc);
  });
  return proc;
}

/**
 * Reads a child's stdout line by line: `next(timeoutMs)` resolves with the next line and
 * rejects when the child exits or stays silent for too long.
 */
export function lineReader(proc) {
  const lines = [];
  const waiters = [];
  let buf = '';
  proc.child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(line);
      else lines.push(line);
    }
  });
  proc.exited.then((code) => {
    const err = new Error(`${proc.name} exited (${code}): ${proc.stderrTail()}`);
    for (const waiter of waiters.splice(0)) waiter.reject(err);
  });
  return {
    next(timeoutMs = 10_000) {
      if (lines.length > 0) return Promise.resolve(lines.shift());
      if (proc.exitCode !== undefined) {
        return Promise.reject(
          new Error(`${proc.name} exited (${proc.exitCode}): ${proc.stderrTail()}`),
        );
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${proc.name}: no output after ${timeoutMs} ms. ${proc.stderrTail()}`));
        }, timeoutMs);
        const waiter = {
          resolve: (line) => (clearTimeout(timer), resolve(line)),
          reject: (err) => (clearTimeout(timer), reject(err)),
        };
        waiters.push(waiter);
      });
    },
  };
}

/** Runs a child to completion and returns its stdout; rejects on a non-zero exit. */
export async function runToEnd(name, command, args, options = {}) {
  const proc = startProcess(name, command, args, options);
  let out = '';
  proc.child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  // A child that reads no input (`go version`) may be gone before its stdin is closed: the
  // EPIPE says nothing its exit code does not.
  proc.child.stdin.on('error', () => undefined);
  proc.child.stdin.end(options.input ?? '');
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${name} failed (${code}): ${proc.stderrTail() || out}`);
  return out;
}

/** Runs one of the bench/clients scripts; it prints a single JSON line. */
export async function runClient(script, params, options = {}) {
  const out = await runToEnd(
    script,
    process.execPath,
    [new URL(`../clients/${script}`, import.meta.url).pathname, JSON.stringify(params)],
    options,
  );
  return JSON.parse(out.trim().split('\n').pop());
}

export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Absolute path of an executable on PATH (or the usual sbin dirs), else undefined. */
export function which(name) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function httpGet(url, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Polls `url` every `intervalMs` until it answers 200; fails early when `proc` dies. */
export async function waitForOk(url, headers, proc, timeoutMs = 20_000, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc !== undefined && proc.exitCode !== undefined) {
      throw new Error(`${proc.name} exited (${proc.exitCode}): ${proc.stderrTail()}`);
    }
    try {
      const { status, body } = await httpGet(url, headers);
      if (status === 200) return;
      last = `HTTP ${status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
}

// ---- memory of a process tree, from /proc ----

function childrenOf(pid) {
  const out = [];
  for (const tid of tasksOf(pid)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // task gone or kernel without /children
    }
  }
  return out;
}

function processTree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
  return all;
}

function statusKiB(pid, field) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const mib = (kib) => kib / 1024;

let clockTicks;
/** Kernel clock ticks per second, the unit of the CPU times in /proc/<pid>/stat. */
function ticksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds of one process (all its threads), or 0 once it is gone. */
function processCpuSeconds(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime 14, stime 15
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return 0;
  }
}

/** Every thread of a process. */
function tasksOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/**
 * CPU nanoseconds on a core (schedstat: finer than the 10 ms ticks of /proc/<pid>/stat, for
 * short spans such as a start or a second at rest) and voluntary context switches (each
 * one a wake-up), summed over every thread of a process tree.
 */
export function schedCounters(pid) {
  let cpuNs = 0;
  let wakeups = 0;
  for (const p of processTree(pid)) {
    for (const tid of tasksOf(p)) {
      try {
        cpuNs += Number(readFileSync(`/proc/${p}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        const status = readFileSync(`/proc/${p}/task/${tid}/status`, 'utf8');
        wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      } catch {
        // thread gone
      }
    }
  }
  return { cpuNs, wakeups };
}

/** User + system CPU seconds of a contender: the process and every descendant (nginx workers). */
export function cpuSeconds(pid) {
  return processTree(pid).reduce((sum, p) => sum + processCpuSeconds(p), 0);
}

/** Proportional set size: each page shared by n processes counts 1/n in each (Linux ≥ 4.14). */
function pssKiB(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
  } catch {
    return statusKiB(pid, 'VmRSS');
  }
}

/**
 * The memory of a contender's processes: one process's resident set (VmRSS); for several
 * (nginx's master and worker), the sum of their proportional sets, so the pages they share
 * are counted once, not once per process. `read` gives each figure of a pid in KiB.
 */
export function memoryKiB(pids, read) {
  if (pids.length === 1) return read.rss(pids[0]);
  return pids.reduce((sum, p) => sum + read.pss(p), 0);
}

const fromProc = { rss: (pid) => statusKiB(pid, 'VmRSS'), pss: pssKiB };

/** A contender's memory in MiB, as `memoryKiB` counts it. */
export function rssMiB(pid) {
  return mib(memoryKiB(processTree(pid), fromProc));
}

/**
 * Tracks the peak memory of a process tree during a scenario, as `rssMiB` counts it: polls
 * it, and for a single process also resets the kernel's high-water mark of its RSS
 * (clear_refs 5) where allowed, to catch a peak between polls. Several processes have no
 * such mark for their shared pages counted once: polling alone.
 */
export function peakRssTracker(pid, intervalMs = 50) {
  let hwmReset = false;
  if (processTree(pid).length === 1) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      hwmReset = true;
    } catch {
      // not allowed here: polling alone
    }
  }
  let polled = rssMiB(pid);
  const timer = setInterval(() => {
    polled = Math.max(polled, rssMiB(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      polled = Math.max(polled, rssMiB(pid));
      if (!hwmReset) return polled;
      const hwm = mib(statusKiB(pid, 'VmHWM'));
      return Math.max(polled, hwm);
    },
  };
}
