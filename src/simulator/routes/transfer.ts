import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { allowBody, reject, sendBody } from '../http';
import { parseRange, patternChunks } from '../pattern';
import type { Exchange } from '../context';
import type { ApiExchange, ApiRoute } from './types';

export const SIZE_RE = /^\d+$/;

/** Vidispine reads the `index` and `size` upload headers as Java longs. */
const JAVA_LONG_MAX = 2n ** 63n - 1n;

/**
 * The header as the integer it spells, kept as a bigint: an offset past 2^53 − 1 (9 PiB)
 * must come back as sent, and a JavaScript number would round it. `null`: malformed.
 */
function headerLong(value: string | string[] | undefined): bigint | undefined | null {
  if (value === undefined) return undefined;
  const v = (Array.isArray(value) ? value[0] : value).trim();
  if (!SIZE_RE.test(v)) return null;
  const n = BigInt(v);
  return n <= JAVA_LONG_MAX ? n : null;
}

/** A JSON object whose bigint fields are written as the exact integers they are. */
function jsonWithLongs(fields: Readonly<Record<string, unknown>>): string {
  const members = Object.entries(fields).map(
    ([name, value]) =>
      `${JSON.stringify(name)}:${typeof value === 'bigint' ? value.toString() : JSON.stringify(value)}`,
  );
  return `{${members.join(',')}}`;
}

/** Streams any size of body through SHA-256 and answers what arrived; nothing is buffered. */
export function importRaw(ex: Exchange): void {
  const { req, res, target } = ex;
  const index = headerLong(req.headers.index);
  const size = headerLong(req.headers.size);
  const malformed = 'header must be a non-negative integer of at most 2^63 - 1';
  if (index === null) return reject(res, 400, `index ${malformed}`);
  if (size === null) return reject(res, 400, `size ${malformed}`);
  const query = new URLSearchParams(target.query);
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.once('end', () =>
    sendBody(
      res,
      200,
      'application/json',
      jsonWithLongs({
        transferId: query.get('transferId'),
        filename: query.get('filename'),
        index: index ?? null,
        size: size ?? null,
        bytes,
        sha256: hash.digest('hex'),
      }),
    ),
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
