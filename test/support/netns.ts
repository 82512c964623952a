/**
 * An IPv4 address whose packets are silently dropped, built from a network namespace: a
 * veth pair with its far end in a namespace of its own, and a permanent neighbour entry
 * that sends the address's frames to a MAC nobody has, so the far end drops them. A TCP
 * connect to it neither succeeds nor fails — exactly a Vidispine host that has vanished.
 *
 * Needs `ip` (iproute2) and root (or passwordless sudo); `netnsUnavailable()` says why not,
 * so tests can be reported as skipped rather than passed.
 */
import { execFileSync } from 'node:child_process';

function sudoPrefix(): string[] | undefined {
  if (process.getuid?.() === 0) return [];
  try {
    execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
    return ['sudo', '-n'];
  } catch {
    return undefined;
  }
}

const prefix = sudoPrefix();

function ip(...args: string[]): void {
  const [command, ...rest] = [...(prefix ?? []), 'ip', ...args];
  execFileSync(command, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why a dropping address cannot be built here, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (prefix === undefined) return 'needs root or passwordless sudo';
  try {
    ip('netns', 'list');
  } catch {
    return 'needs iproute2 (`ip`) with network namespace support';
  }
  return undefined;
}

export interface DroppingAddress {
  /** Nothing ever answers packets sent here. */
  readonly address: string;
  remove(): void;
}

/** Unique per process: names and a /30 of 10.0.0.0/8 derived from the pid. */
export function createDroppingAddress(): DroppingAddress {
  const id = process.pid;
  const namespace = `vap-drop-${id}`;
  const near = `vapd${id}`.slice(0, 15);
  const far = `vapf${id}`.slice(0, 15);
  const base = (10 << 24) + ((id * 4) & 0xfffffc);
  const dotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
  const remove = (): void => {
    for (const args of [
      ['link', 'del', near],
      ['netns', 'del', namespace],
    ]) {
      try {
        ip(...args);
      } catch {
        // Already gone.
      }
    }
  };
  remove();
  try {
    ip('netns', 'add', namespace);
    ip('link', 'add', near, 'type', 'veth', 'peer', 'name', far);
    ip('link', 'set', far, 'netns', namespace);
    ip('netns', 'exec', namespace, 'ip', 'link', 'set', far, 'up');
    ip('addr', 'add', `${dotted(base + 1)}/30`, 'dev', near);
    ip('link', 'set', near, 'up');
    // The far end never sees a frame addressed to it: every packet for .2 is dropped there.
    const address = dotted(base + 2);
    ip('neigh', 'replace', address, 'lladdr', '02:00:00:00:00:01', 'dev', near, 'nud', 'permanent');
    return { address, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
