import { allowBody, readSmallBody, reject, sendBody, sendJson } from '../http';
import { etagOf, noneMatchHits, type Item } from '../items';
import type { ApiExchange, ApiRoute } from './types';

const METADATA_LIMIT = 1024 * 1024;

/**
 * What every item answer carries besides the item: the request target exactly as received
 * and its matrix parameters, so a proxy's byte-for-byte forwarding can be checked.
 */
function echo({ req, target, segments }: ApiExchange): Record<string, unknown> {
  const matrix: Record<string, string> = {};
  for (const s of segments) Object.assign(matrix, s.matrix);
  return { method: req.method, uri: target.raw, matrix };
}

function itemDocument(ex: ApiExchange, item: Item, metadataOnly: boolean): Record<string, unknown> {
  const request = echo(ex);
  return metadataOnly
    ? { id: item.id, metadata: item.metadata, request }
    : { id: item.id, revision: item.revision, metadata: item.metadata, request };
}

function sendItem(ex: ApiExchange, item: Item, metadataOnly: boolean): void {
  const etag = etagOf(item);
  const inm = ex.req.headers['if-none-match'];
  if (inm !== undefined && noneMatchHits(inm, item)) return sendBody(ex.res, 304, '', '', { etag });
  sendJson(ex.res, 200, itemDocument(ex, item, metadataOnly), { etag });
}

function findItem(ex: ApiExchange): Item | undefined {
  const item = ex.ctx.items.get(ex.params.id);
  if (!item) reject(ex.res, 404, `no item ${ex.params.id}`);
  return item;
}

/** Reads `{ "field": "value", ... }`; answers 400/413 itself and resolves undefined then. */
async function readFields(ex: ApiExchange): Promise<Record<string, string> | undefined> {
  allowBody(ex.res);
  const body = await readSmallBody(ex.req, METADATA_LIMIT);
  if (body === undefined) {
    reject(ex.res, 413, `metadata larger than ${METADATA_LIMIT} bytes`);
    return undefined;
  }
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    !Object.values(parsed).every((v) => typeof v === 'string')
  ) {
    reject(ex.res, 400, 'metadata must be a JSON object of string fields');
    return undefined;
  }
  return parsed as Record<string, string>;
}

/** Body-reading handlers: a client that goes away mid-body just loses its answer. */
function withFields(ex: ApiExchange, use: (fields: Record<string, string>) => void): void {
  readFields(ex).then(
    (fields) => fields && use(fields),
    () => ex.res.destroy(),
  );
}

export const ITEM_ROUTES: readonly ApiRoute[] = [
  {
    // POST answers 201 + Location, or 303 See Other with `?respond=303`; both on the origin the
    // request addressed.
    pattern: ['item'],
    methods: ['POST'],
    handle: (ex) =>
      withFields(ex, (fields) => {
        const item = ex.ctx.items.create(fields);
        const location = `${ex.ctx.origin(ex.req)}/API/item/${item.id}`;
        if (new URLSearchParams(ex.target.query).get('respond') === '303') {
          ex.res.writeHead(303, { location, 'content-length': 0 });
          ex.res.end();
          return;
        }
        sendJson(ex.res, 201, itemDocument(ex, item, false), { location, etag: etagOf(item) });
      }),
  },
  {
    pattern: ['item', ':id'],
    methods: ['GET'],
    handle: (ex) => {
      const item = findItem(ex);
      if (item) sendItem(ex, item, false);
    },
  },
  {
    pattern: ['item', ':id', 'metadata'],
    methods: ['GET', 'PUT'],
    handle: (ex) => {
      const item = findItem(ex);
      if (!item) return;
      if (ex.req.method !== 'PUT') return sendItem(ex, item, true);
      withFields(ex, (fields) => {
        ex.ctx.items.update(item, fields);
        sendJson(ex.res, 200, itemDocument(ex, item, true), { etag: etagOf(item) });
      });
    },
  },
];
