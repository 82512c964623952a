import * as net from 'node:net';
import { MiB } from './reliability-clients';

/**
 * A client that sends `request`, reads the first MiB of what comes back and then nothing,
 * with its connection left open: a hung process, or a peer gone behind a NAT that still
 * acknowledges for it.
 */
export interface StalledReader {
  /** Bytes read so far. */
  received(): number;
  /**
   * Reads again once the test saw the proxy give up (a paused socket does not notice), up
   * to the connection's close, and says how much came.
   */
  end(): Promise<number>;
}

export function stopReading(port: number, request: string): StalledReader {
  const socket = net.connect(port, '127.0.0.1');
  let received = 0;
  let reading = true;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (reading && received > MiB) socket.pause();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', resolve));
  socket.write(request);
  return {
    received: () => received,
    end: async () => {
      reading = false;
      socket.resume();
      await closed;
      return received;
    },
  };
}

/**
 * Writes to `socket` as fast as its peer takes it, until it is destroyed: the sender that
 * fills a reader that stopped, up to its kernel buffers and no further in this process.
 */
export function pumpUntilClosed(socket: net.Socket): void {
  const chunk = Buffer.alloc(64 * 1024, 'w');
  const pump = (): void => {
    while (!socket.destroyed) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}
