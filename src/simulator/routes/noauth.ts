import type { Exchange } from '../context';
import { methodServed, reject, sendBody, sendJson } from '../http';
import { importRaw } from './transfer';

/** A resource on a root that takes no credentials, matched on the whole path. */
interface OpenRoute {
  readonly path: string;
  /** As JAX-RS declares them: a GET resource answers HEAD too (`methodServed`). */
  readonly methods: readonly string[];
  handle(ex: Exchange): void;
}

/** The roots besides /API that Vidispine serves without credentials. */
export const OPEN_ROOT_RE = /^\/API(?:noauth|init|doc)(?:\/|$)/;

const SELFTEST = {
  status: 'ok',
  tests: [
    { name: 'database', status: 'ok' },
    { name: 'license', status: 'ok' },
  ],
};

const API_DOC =
  '<!DOCTYPE html><html><head><title>Vidispine API</title></head>' +
  '<body><h1>Vidispine API (simulated)</h1><p>Resources live under /API/.</p></body></html>';

/**
 * A signed upload URL: no credentials, the upload key in `passkey` (or `hash`) instead.
 * The body is taken as `/API/import/raw` takes it: streamed, whatever its size.
 */
function signedUpload(ex: Exchange): void {
  const query = new URLSearchParams(ex.target.query);
  const key = query.get('passkey') ?? query.get('hash');
  if (key !== ex.ctx.uploadPasskey) {
    return reject(ex.res, 403, 'signed URL refused: wrong or missing passkey');
  }
  importRaw(ex);
}

const READ = ['GET'] as const;

const OPEN_ROUTES: readonly OpenRoute[] = [
  {
    path: '/APInoauth/is-online',
    methods: READ,
    handle: ({ res }) => sendBody(res, 200, 'text/plain', 'true'),
  },
  { path: '/APInoauth/selftest', methods: READ, handle: ({ res }) => sendJson(res, 200, SELFTEST) },
  { path: '/APInoauth/import/raw', methods: ['POST', 'PUT'], handle: signedUpload },
  {
    path: '/APIinit/',
    methods: READ,
    handle: ({ res }) => sendJson(res, 200, { initialized: true }),
  },
  {
    path: '/APIdoc/',
    methods: READ,
    handle: ({ res }) => sendBody(res, 200, 'text/html;charset=utf-8', API_DOC),
  },
];

/** `/APInoauth/…`, `/APIinit/` and `/APIdoc/`: no credentials asked, none looked at. */
export function dispatchOpen(ex: Exchange): void {
  const { res, target } = ex;
  ex.ctx.counters.count('noauth', undefined);
  const route = OPEN_ROUTES.find((r) => r.path === target.path);
  if (!route) return reject(res, 404, 'no such resource');
  if (!methodServed(res, route.methods)) return;
  route.handle(ex);
}
