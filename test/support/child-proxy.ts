/** The built CLI as a real child process, with its JSON log lines parsed as they arrive. */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI } from './cli';

export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return undefined;
  }
}

/**
 * Runs a command as PID 1 of new user, PID and mount namespaces (as root, or unprivileged),
 * killed with unshare (`--kill-child`) so that a test's cleanup reaches it.
 */
const PID1 = [
  'unshare',
  '--user',
  '--map-root-user',
  '--pid',
  '--fork',
  '--mount-proc',
  '--kill-child',
];

/** Why a command cannot run as PID 1 of its own PID namespace here, or undefined when it can. */
export function pid1Unavailable(): string | undefined {
  const [file, ...rest] = [...PID1, 'true'];
  try {
    execFileSync(file as string, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    return `\`${PID1.join(' ')}\` fails here: ${(err as Error).message.split('\n')[0]}`;
  }
}

let forOthers: { node: string; cli: string } | undefined;

/**
 * Node.js and the built CLI where any user can reach them. A checkout may sit below a
 * directory only its owner may enter, as `mktemp -d` makes one, and the Node.js of
 * `npm run test:node24` is cached in the home directory (`~/.cache`, below a private `/root`):
 * a child given another uid could then load neither.
 */
function reachableByAnyone(): { node: string; cli: string } {
  if (forOthers) return forOthers;
  // Removed with the run's temporary directory (run-tmpdir.ts).
  const root = mkdtempSync(join(tmpdir(), 'vap-cli-'));
  chmodSync(root, 0o755);
  const node = join(root, 'node');
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  const dist = dirname(CLI);
  cpSync(dist, join(root, 'dist'), { recursive: true });
  copyFileSync(join(dist, '..', 'package.json'), join(root, 'package.json'));
  forOthers = { node, cli: join(root, 'dist', 'cli.js') };
  return forOthers;
}

export class ChildProxy {
  readonly lines: LogLine[] = [];
  readonly stdout: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { match: (text: string) => boolean; resolve: () => void }[] = [];

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (text) => {
      this.stdout.push(text);
      const line = parseLogLine(text);
      if (line) this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.match(text)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  /**
   * `nodeArgs`: Node.js's and V8's own flags, before the CLI. `as`: the user and group it runs
   * as (the test runs as root), and the network namespace it runs in (`ip netns exec`, which
   * execs it: the child is the CLI's own process), or `pid1`: as PID 1 of a PID namespace of
   * its own, as in a container whose entrypoint is node (`unshare`, whose exit code is the
   * CLI's; the child is then unshare, and the CLI its only child: `namespaceInit`).
   */
  static start(
    args: string[],
    env: NodeJS.ProcessEnv,
    nodeArgs: string[] = [],
    as: { uid?: number; gid?: number; netns?: string; pid1?: boolean } = {},
  ): ChildProxy {
    const { netns, pid1, ...ids } = as;
    const { node, cli } =
      ids.uid === undefined ? { node: process.execPath, cli: CLI } : reachableByAnyone();
    const command = [node, ...nodeArgs, cli, ...args];
    const [file, ...rest] =
      netns !== undefined
        ? ['ip', 'netns', 'exec', netns, ...command]
        : pid1 === true
          ? [...PID1, ...command]
          : command;
    const child = spawn(file as string, rest, {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...ids,
    });
    return new ChildProxy(child);
  }

  /** The first stdout line (already seen or still to come) that matches. */
  waitForText(match: (text: string) => boolean): Promise<string> {
    const seen = this.stdout.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({
        match,
        resolve: () => resolve(this.stdout[this.stdout.length - 1]),
      });
      void this.exited.then(({ code }) =>
        reject(new Error(`exited (${code}) before the awaited line:\n${this.stderr}`)),
      );
    });
  }

  /** The first JSON log line (already seen or still to come) that matches. */
  async waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
    const test = (text: string): boolean => {
      const line = parseLogLine(text);
      return line !== undefined && match(line);
    };
    return parseLogLine(await this.waitForText(test)) as LogLine;
  }

  waitForEvent(event: string): Promise<LogLine> {
    return this.waitFor((l) => l.event === event);
  }

  /** The pid, as seen from here, of the CLI started with `pid1` (unshare's only child). */
  namespaceInit(): number {
    const task = `/proc/${this.child.pid}/task`;
    const children = readdirSync(task).flatMap((tid) =>
      readFileSync(`${task}/${tid}/children`, 'utf8').split(' ').filter(Boolean),
    );
    if (children.length !== 1) throw new Error(`unshare has ${children.length} children`);
    return Number(children[0]);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** An environment-only configuration: user alice of `vidispine`, every listener on port 0. */
export function aliceEnv(vidispine: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    VIDISPINE_URL: vidispine,
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD: 'alice-password',
    PROXY_LISTEN: '127.0.0.1:0',
    OPS_LISTEN: '127.0.0.1:0',
    ...extra,
  };
}

/** The environment of a proxy for alice (own password) against a simulator at `url`. */
export function aliceAgainst(url: string): NodeJS.ProcessEnv {
  return {
    VIDISPINE_URL: url,
    VIDISPINE_USER: 'alice',
    VIDISPINE_PASSWORD: 'alice-password',
    PROXY_LISTEN: '127.0.0.1:0',
    OPS_LISTEN: '127.0.0.1:0',
    SHUTDOWN_DELAY_SECONDS: '0',
  };
}
