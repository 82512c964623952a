/** Vidispine behind TLS: a front on 127.0.0.1 whose certificate `ca` signed, piping to `port`. */
import { type AddressInfo, connect } from 'node:net';
import { createServer } from 'node:tls';
import type { TestCa } from './certificates';

export interface HttpsFront {
  readonly url: string;
  close(): void;
}

export async function startHttpsFront(ca: TestCa, port: number): Promise<HttpsFront> {
  const leaf = await ca.issue({ ips: ['127.0.0.1'] });
  const front = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (socket) => {
    const upstream = connect(port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    for (const s of [socket, upstream]) s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(front.address() as AddressInfo).port}`,
    close: () => front.close(),
  };
}
