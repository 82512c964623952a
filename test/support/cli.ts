import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
    /**
     * Without the capabilities that let root read and search any file (CAP_DAC_OVERRIDE,
     * CAP_DAC_READ_SEARCH), through util-linux's setpriv: file modes then bind root too.
     * Nothing changes for another user, who has neither.
     */
    withoutReadOverride?: boolean;
    /**
     * Closes the read end of stdout at once, as `| head` or `| true` does: every write the
     * child makes to it fails with EPIPE (Node takes far longer to start than this takes).
     */
    closeStdout?: boolean;
    /** stdout is `/dev/full` (through `sh`): every write the child makes to it fails with ENOSPC. */
    fullStdout?: boolean;
    /** Options for Node.js and V8 themselves, before the script (`--trace-opt`). */
    nodeArgs?: string[];
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const dropOverride = options.withoutReadOverride === true && process.getuid?.() === 0;
    const node = [process.execPath, ...(options.nodeArgs ?? []), CLI, ...args];
    const command =
      options.fullStdout === true ? ['sh', '-c', 'exec "$@" >/dev/full', 'sh', ...node] : node;
    const [file, ...argv] = dropOverride
      ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--', ...command]
      : command;
    const child = spawn(file, argv, {
      env: options.env ?? { PATH: process.env.PATH },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (options.closeStdout === true) child.stdout.destroy();
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
