import { reject, sendJson, sendText } from '../http';
import { ITEM_ROUTES } from './items';
import type { ApiExchange, ApiRoute } from './types';
import { SIZE_RE, TRANSFER_ROUTES } from './transfer';

const MAX_SLOW_MS = 10 * 60 * 1000;

/** Answers after `ms` (default 1000) of real time; the timer dies with the connection. */
function slow(ex: ApiExchange): void {
  const raw = new URLSearchParams(ex.target.query).get('ms') ?? '1000';
  const ms = Number(raw);
  if (!SIZE_RE.test(raw) || ms > MAX_SLOW_MS) {
    return reject(ex.res, 400, `ms must be an integer 0..${MAX_SLOW_MS}`);
  }
  const timer = setTimeout(() => sendJson(ex.res, 200, { sleptMs: ms }), ms);
  ex.res.once('close', () => clearTimeout(timer));
}

/** The authenticated resources under /API, beyond the token endpoints. */
export const API_ROUTES: readonly ApiRoute[] = [
  {
    pattern: ['whoami'],
    methods: ['GET'],
    handle: ({ res, identity }) => sendText(res, 200, identity.effective.name),
  },
  { pattern: ['slow'], methods: ['GET'], handle: slow },
  ...ITEM_ROUTES,
  ...TRANSFER_ROUTES,
];
