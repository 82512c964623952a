/**
 * An IPv4 address whose packets are silently dropped, built from a network namespace: a
 * veth pair with its far end in a namespace of its own, and a permanent neighbour entry
 * that sends the address's frames to a MAC nobody has, so the far end drops them. A TCP
 * connect to it neither succeeds nor fails — exactly a Vidispine host that has vanished.
 *
 * Needs `ip` (iproute2) and root (or passwordless sudo); `netnsUnavailable()` says why not,
 * so tests can be reported as skipped rather than passed.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

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

/** Removes the veth pair (by its near end) and the namespace, whichever exist. */
function removal(near: string, namespace: string): () => void {
  return () => {
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
}

/** A new namespace and a veth pair into it: `near` here, `far` there (both still down). */
function vethInto(namespace: string, near: string, far: string): void {
  ip('netns', 'add', namespace);
  ip('link', 'add', near, 'type', 'veth', 'peer', 'name', far);
  ip('link', 'set', far, 'netns', namespace);
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
  const remove = removal(near, namespace);
  remove();
  try {
    vethInto(namespace, near, far);
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

export interface Ipv6OnlyPod {
  readonly namespace: string;
  /** The pod's one address on its network, as the kubelet probes it. */
  readonly address: string;
  /** This end of the link, which the pod reaches as it reaches the rest of the cluster. */
  readonly node: string;
  remove(): void;
}

/**
 * A network namespace laid out as a pod of an IPv6-only cluster: loopback as every pod has
 * it (127.0.0.1 and ::1), and one interface whose only address is IPv6, reached from here
 * over a veth pair as the kubelet reaches a pod. Unique per process.
 */
export function createIpv6OnlyPod(): Ipv6OnlyPod {
  const id = process.pid;
  const namespace = `vap-v6-${id}`;
  const near = `vap6n${id}`.slice(0, 15);
  const far = `vap6f${id}`.slice(0, 15);
  const prefix = `fd00:7661:${(id & 0xffff).toString(16)}::`;
  const remove = removal(near, namespace);
  remove();
  try {
    vethInto(namespace, near, far);
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, 'addr', 'add', `${prefix}2/64`, 'dev', far, 'nodad');
    ip('-n', namespace, 'link', 'set', far, 'up');
    ip('addr', 'add', `${prefix}1/64`, 'dev', near, 'nodad');
    ip('link', 'set', near, 'up');
    return { namespace, address: `${prefix}2`, node: `${prefix}1`, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** Why a lossy link cannot be built here (it needs nftables too), or undefined when it can. */
export function lossyLinkUnavailable(): string | undefined {
  const netns = netnsUnavailable();
  if (netns !== undefined) return netns;
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs nftables (`nft`)';
  }
  return undefined;
}

export interface LossyLink {
  /** The far end's address, inside the namespace. */
  readonly address: string;
  /** Runs a command inside the namespace (a server that should sit behind the link). */
  spawnInside(command: string, args: readonly string[]): ChildProcessWithoutNullStreams;
  remove(): void;
}

/**
 * A veth pair into a namespace of its own whose far end drops `lossPerMille` of the packets
 * it receives and sends (nftables' `numgen random`: the kernel here has no `netem`), so TCP
 * retransmits, and reorders what it delivers around each gap, in both directions. Unique
 * per process: names and a /30 of 10.64.0.0/10 derived from the pid.
 */
export function createLossyLink(lossPerMille: number): LossyLink {
  const id = process.pid;
  const namespace = `vap-loss-${id}`;
  const near = `vapl${id}`.slice(0, 15);
  const far = `vapm${id}`.slice(0, 15);
  const base = (10 << 24) + (1 << 22) + ((id * 4) & 0x3ffffc);
  const dotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
  const remove = removal(near, namespace);
  remove();
  try {
    vethInto(namespace, near, far);
    ip('addr', 'add', `${dotted(base + 1)}/30`, 'dev', near);
    ip('link', 'set', near, 'up');
    const address = dotted(base + 2);
    ip('-n', namespace, 'addr', 'add', `${address}/30`, 'dev', far);
    ip('-n', namespace, 'link', 'set', far, 'up');
    const nft = (...args: string[]): void => ip('netns', 'exec', namespace, 'nft', ...args);
    nft('add', 'table', 'inet', 'loss');
    for (const hook of ['input', 'output']) {
      nft('add', 'chain', 'inet', 'loss', hook, `{ type filter hook ${hook} priority 0; }`);
      nft('add', 'rule', 'inet', 'loss', hook, `numgen random mod 1000 < ${lossPerMille} drop`);
    }
    return {
      address,
      spawnInside: (command, args) => {
        const [first, ...rest] = [...(prefix ?? []), 'ip', 'netns', 'exec', namespace, command];
        return spawn(first, [...rest, ...args]);
      },
      remove,
    };
  } catch (err) {
    remove();
    throw err;
  }
}
