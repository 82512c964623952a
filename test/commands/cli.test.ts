import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  version: string;
};

describe('cli', () => {
  it('prints usage with --help and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['run', 'check', 'simulate', 'demo', 'inject'])
      expect(r.stdout).toContain(cmd);
    // A bad command line exits 2 too (README, "Command line"), so the help says so.
    expect(r.stdout).toContain(
      'Exit codes: 0 success, 1 runtime failure, 2 bad configuration or command line.',
    );
  });

  it('prints the package version with --version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it.each([['--help'], ['--version']])(
    'exits 0 without a word when the reader of %s has gone (EPIPE)',
    async (flag) => {
      const r = await runCli([flag], { closeStdout: true });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    },
  );

  it.each([['--help'], ['--version']])(
    'says in one line that %s could not be written (ENOSPC), and exits 1',
    async (flag) => {
      const r = await runCli([flag], { fullStdout: true });
      expect(r.stderr).toBe(
        'vidispine-auth-proxy: cannot write to stdout: ENOSPC: no space left on device, write\n',
      );
      expect(r.code).toBe(1);
    },
  );

  it.each([['run'], ['check'], ['inject']])(
    '%s refuses --config given twice with exit 2, where the last file was taken',
    async (command) => {
      const r = await runCli([command, '--config', 'a.yaml', '-c', 'b.yaml']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--config: given 2 times; give one configuration file');
      expect(r.stdout).toBe('');
    },
  );

  it.each([[[]], [['--version']], [['-v']], [['--help']], [['-h']]])(
    'rejects an unknown command with exit 2 and names it, whatever follows it (%j)',
    async (flags) => {
      const r = await runCli(['frobnicate', ...flags]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('unknown command "frobnicate"');
      expect(r.stdout).toBe('');
    },
  );
});
