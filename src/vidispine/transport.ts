import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { VidispineConfig } from '../config/types';

export interface HttpAnswer {
  readonly status: number;
  /** At most `MAX_BODY_BYTES`; a token or a username is far smaller. */
  readonly body: string;
  readonly truncated: boolean;
}

/** Small GET requests to Vidispine's API (token minting, whoami) over one keep-alive agent. */
export interface VidispineTransport {
  /** Scheme, host and port, for messages (never credentials). */
  readonly origin: string;
  /** `apiPath` starts with `/API/`; it is appended to the base URL's path prefix. */
  get(apiPath: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpAnswer>;
  /** Closes idle keep-alive sockets. */
  close(): void;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_SOCKETS = 8;

export function createTransport(
  vidispine: Pick<VidispineConfig, 'url' | 'caFile'>,
): VidispineTransport {
  const base = vidispine.url;
  const secure = base.protocol === 'https:';
  // An extra CA is added to Node's bundle, not put in its place.
  const ca = vidispine.caFile
    ? [...rootCertificates, readFileSync(vidispine.caFile, 'utf8')]
    : undefined;
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, ca })
    : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const prefix = base.pathname.replace(/\/$/, '');
  const request = secure ? https.request : http.request;

  return {
    origin: base.origin,
    close: () => agent.destroy(),
    get: (apiPath, headers, signal) =>
      new Promise<HttpAnswer>((resolve, reject) => {
        const req = request(
          new URL(prefix + apiPath, base.origin),
          { method: 'GET', headers, agent, signal },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            let truncated = false;
            res.on('data', (chunk: Buffer) => {
              if (truncated) return;
              size += chunk.length;
              if (size > MAX_BODY_BYTES) {
                truncated = true;
                res.destroy();
                finish();
                return;
              }
              chunks.push(chunk);
            });
            const finish = () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8'),
                truncated,
              });
            res.on('end', finish);
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      }),
  };
}
