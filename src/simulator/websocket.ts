import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { WebSocketServer } from 'ws';
import { authenticate } from './auth';
import type { SimContext } from './context';
import { CHALLENGE, NO_SERVER, backendDown, reasonHeader, splitTarget } from './http';

/** An authenticated echo service under /APIWS/, standing in for Vidispine's internal socket. */
export class WebSocketEcho {
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly ctx: SimContext) {}

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const { path } = splitTarget(req.url ?? '/');
    if (backendDown(this.ctx, path)) return refuse(socket, 503, NO_SERVER);
    if (!path.startsWith('/APIWS/')) {
      return refuse(socket, 404, 'no such resource');
    }
    const auth = authenticate(req.headers, this.ctx);
    this.ctx.counters.count('ws', auth.ok ? auth.identity.effective.name : auth.claimed);
    if (!auth.ok) {
      return refuse(socket, auth.status, auth.reason, this.ctx.reasonHeader ? auth.detail : '');
    }
    if (auth.identity.caller.disabled || auth.identity.effective.disabled) {
      return refuse(socket, 401, 'user is disabled');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}

function refuse(socket: Duplex, status: number, reason: string, detail = ''): void {
  const body = `${reason}\n`;
  const challenge = status === 401 ? `WWW-Authenticate: ${CHALLENGE}\r\n` : '';
  const because = detail === '' ? '' : `Reason: ${String(reasonHeader(detail).reason)}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${challenge}${because}` +
      `Content-Type: text/plain;charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
