/** Requests as `curl --http2` sends them over plain HTTP: each offers an upgrade to h2c. */
import { createHash } from 'node:crypto';
import { rawRequest, type RawResult } from './raw-client';

export const H2C_OFFER =
  'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n';

/** `POST /API/import/raw?transferId=h2` with the body `abc`, read until the server closes. */
export function uploadOfferingH2c(port: number, headers = ''): Promise<RawResult> {
  return rawRequest(
    port,
    `POST /API/import/raw?transferId=h2 HTTP/1.1\r\nHost: x\r\n${headers}${H2C_OFFER}` +
      'Content-Length: 3\r\n\r\nabc',
    { untilClosed: true, timeoutMs: 5000 },
  );
}

/**
 * The upload was served as a plain request, its body whole, and the connection closed after
 * the answer (Node drops what followed such a request in the same read).
 */
export function expectServedPlain(upload: RawResult): void {
  expect(upload.responses.map((r) => r.status)).toEqual([200]);
  expect(JSON.parse(upload.responses[0].body.toString())).toMatchObject({
    transferId: 'h2',
    bytes: 3,
    sha256: createHash('sha256').update('abc').digest('hex'),
  });
  expect(upload.responses[0].header('connection')).toBe('close');
  expect(upload.closed).toBe(true);
}
