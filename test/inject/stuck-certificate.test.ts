/**
 * The webhook's serving pair on a volume that stops answering (a network or CSI mount gone
 * away), against the real CLI: test/support/stuck-volume.cjs makes opening the file block the
 * thread that opens it, for good. `inject` holds SIGTERM and SIGINT from its first
 * instruction, for its shutdown sequence: the pair it loads at start must be read off the
 * main thread, so that a signal still ends the process.
 */
import { ChildProxy } from '../support/child-proxy';
import { tempFolder } from '../support/files';
import { testTls, webhookEnv } from '../support/inject';
import { expectEndedWhileStuck, mkfifo, stuckVolumeEnv } from '../support/stuck-files';

const children: ChildProxy[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill()));

describe('a serving pair whose volume hangs from the start', () => {
  it.each([
    ['certificate', 'SIGTERM'],
    ['certificate', 'SIGINT'],
    ['key', 'SIGTERM'],
  ] as const)(
    'inject, its %s file stuck, told to stop by %s, ends at once by it',
    async (which, signal) => {
      const { pair } = await testTls();
      const folder = tempFolder('stuck-pair');
      const certFile = folder.file(pair.certPem);
      const keyFile = folder.file(pair.keyPem);
      // A FIFO no one writes to, in place of the file, as the preload opens it.
      const stuck = folder.path(`stuck-${which}.pem`);
      mkfifo(stuck);
      const env = webhookEnv(
        which === 'certificate' ? stuck : certFile,
        which === 'key' ? stuck : keyFile,
        stuckVolumeEnv(stuck),
      );
      const proxy = ChildProxy.start(['inject'], env);
      children.push(proxy);
      await expectEndedWhileStuck(proxy, signal);
    },
    30_000,
  );
});
