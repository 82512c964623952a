import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { allowBody, reject, sendJson } from '../http';
import { parseRange, patternChunks } from '../pattern';
import type { Exchange } from '../context';
import type { ApiExchange, ApiRoute } from './types';

export const SIZE_RE = /^\d+$/;

function headerNumber(value: string | string[] | undefined): number | undefined | null {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value[0] : value;
  return SIZE_RE.test(v.trim()) ? Number(v.trim()) : null;
}

/** Streams any size of body through SHA-256 and answers what arrived; nothing is buffered. */
export function importRaw(ex: Exchange): void {
  const { req, res, target } = ex;
  const index = headerNumber(req.headers.index);
  const size = headerNumber(req.headers.size);
  if (index === null) return reject(res, 400, 'index header must be a non-negative integer');
  if (size === null) return reject(res, 400, 'size header must be a non-negative integer');
  const query = new URLSearchParams(target.query);
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.once('end', () =>
    sendJson(res, 200, {
      transferId: query.get('transferId'),
      filename: query.get('filename'),
      index: index ?? null,
      size: size ?? null,
      bytes,
      sha256: hash.digest('hex'),
    }),
  );
  allowBody(res);
}

/** Writes chunks while the socket takes them; stops when the client leaves. */
function pump(res: ServerResponse, chunks: Iterator<Buffer>): void {
  for (;;) {
    if (res.destroyed) return;
    const next = chunks.next();
    if (next.done) {
      res.end();
      return;
    }
    if (!res.write(next.value)) {
      res.once('drain', () => pump(res, chunks));
      return;
    }
  }
}

/** N deterministic bytes (see pattern.ts), with single-range support. */
function fileData(ex: ApiExchange): void {
  const { req, res, target } = ex;
  const raw = new URLSearchParams(target.query).get('size');
  if (raw === null || !SIZE_RE.test(raw) || !Number.isSafeInteger(Number(raw))) {
    return reject(res, 400, 'size must be a non-negative integer');
  }
  const size = Number(raw);
  const range = parseRange(req.headers.range, size);
  const headers = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': 0 });
    res.end();
    return;
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
  const length = end - start + 1;
  res.writeHead(range.kind === 'partial' ? 206 : 200, {
    ...headers,
    'content-length': length,
    ...(range.kind === 'partial' ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (req.method === 'HEAD') return void res.end();
  pump(res, patternChunks(start, length));
}

export const TRANSFER_ROUTES: readonly ApiRoute[] = [
  { pattern: ['import', 'raw'], methods: ['POST', 'PUT'], handle: importRaw },
  { pattern: ['storage', 'file', ':id', 'data'], methods: ['GET'], handle: fileData },
];
