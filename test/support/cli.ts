import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a real child process and collects its output. */
export function runCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    input?: string;
    /** Run as this user and group id (the tests must run as root to change it). */
    uid?: number;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    if (options.uid !== undefined && !othersMay(CLI, 0o004)) {
      throw new Error(
        `${CLI} is not reachable by other users: give the checkout o+rx to run the CLI as uid ${options.uid}`,
      );
    }
    const node = options.uid === undefined ? process.execPath : nodeForOthers();
    const child = spawn(node, [CLI, ...args], {
      env: options.env ?? { PATH: process.env.PATH },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A command that reads no input may exit before its stdin is closed (EPIPE).
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Whether users other than the owner may use `path` this way (read 0o004, run 0o001): the
 * file's own bit and o+x on every directory above it. */
function othersMay(path: string, bit: 0o004 | 0o001): boolean {
  if ((statSync(path).mode & bit) === 0) return false;
  for (let p = dirname(path); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
}

let copiedNode: string | undefined;

/**
 * A Node.js binary that another user can run: the running one, or a copy of it when it lives
 * in a private directory (a Node fetched into root's cache, as `npm run test:node24` does).
 */
function nodeForOthers(): string {
  if (othersMay(process.execPath, 0o001)) return process.execPath;
  if (copiedNode === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'vap-node-'));
    chmodSync(dir, 0o755);
    copiedNode = join(dir, 'node');
    copyFileSync(process.execPath, copiedNode);
    chmodSync(copiedNode, 0o755);
  }
  return copiedNode;
}
