import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { MAX_DELAY_MS } from './faults';
import { readSmallBody, reject, sendJson, type Target } from './http';
import type { CallEndpoint, Simulator } from './types';

/**
 * The test control surface over HTTP, under /__sim/ — only when enabled, since it can revoke
 * tokens and break the token endpoints for everyone. It drives the public Simulator API only.
 */

const FaultBody = z
  .object({
    fault: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('status'),
        status: z.number().int().min(200).max(599),
        retryAfter: z.number().int().min(0).optional(),
      }),
      z.object({ kind: z.literal('delay'), ms: z.number().min(0).max(MAX_DELAY_MS) }),
      z.object({ kind: z.literal('empty') }),
      z.object({ kind: z.literal('drop') }),
    ]),
    forMs: z.number().min(0).optional(),
    times: z.number().int().min(0).optional(),
  })
  .strict();
const TokenBody = z.object({ token: z.string() }).strict();
const ClockBody = z.object({ advanceMs: z.number() }).strict();
const UserBody = z
  .object({ password: z.string().optional(), disabled: z.boolean().optional() })
  .strict();
const KeyBody = z.object({ status: z.enum(['ACTIVE', 'INACTIVE']) }).strict();
const BackendBody = z.object({ available: z.boolean() }).strict();
const LifetimeBody = z.object({ maxSeconds: z.number().int().min(1) }).strict();
/** Every endpoint the simulator counts: the record type makes leaving one out an error. */
const ENDPOINTS: Readonly<Record<CallEndpoint, true>> = {
  token: true,
  user_token: true,
  api: true,
  noauth: true,
  ws: true,
};
const isEndpoint = (name: string): name is CallEndpoint => Object.hasOwn(ENDPOINTS, name);

type Handler = (sim: Simulator, body: unknown, query: URLSearchParams, arg: string) => unknown;

const ROUTES: Record<string, Handler> = {
  'GET calls': (sim, _b, q) => {
    // An empty value is no filter: `calls?endpoint=&user=` counts everything.
    const endpoint = q.get('endpoint') || undefined;
    if (endpoint !== undefined && !isEndpoint(endpoint)) throw new Error('unknown endpoint');
    return { count: sim.calls({ endpoint, user: q.get('user') || undefined }) };
  },
  'POST calls/reset': (sim) => sim.resetCalls(),
  'POST tokens/revoke-all': (sim) => sim.revokeAllTokens(),
  'POST tokens/revoke': (sim, b) => sim.revokeToken(TokenBody.parse(b).token),
  'POST tokens/info': (sim, b) => sim.tokenInfo(TokenBody.parse(b).token) ?? null,
  'POST faults': (sim, b) => {
    const { fault, forMs, times } = FaultBody.parse(b);
    sim.failTokenEndpoints(fault, { forMs, times });
  },
  'DELETE faults': (sim) => sim.healTokenEndpoints(),
  'GET clock': (sim) => ({ now: sim.now() }),
  'POST clock': (sim, b) => {
    sim.advanceClock(ClockBody.parse(b).advanceMs);
    return { now: sim.now() };
  },
  'POST users/:name': (sim, b, _q, name) => {
    const change = UserBody.parse(b);
    if (change.password !== undefined) sim.setUserPassword(name, change.password);
    if (change.disabled !== undefined) sim.setUserDisabled(name, change.disabled);
  },
  'POST keys/:name': (sim, b, _q, id) => sim.setAccessKeyStatus(id, KeyBody.parse(b).status),
  'POST backend': (sim, b) => sim.setBackendAvailable(BackendBody.parse(b).available),
  'POST lifetime': (sim, b) => sim.setMaxSeconds(LifetimeBody.parse(b).maxSeconds),
  'GET stats': (sim) => ({
    openConnections: sim.openConnections(),
    inFlightRequests: sim.inFlightRequests(),
    tokens: sim.tokenCount(),
  }),
};

export const CONTROL_PREFIX = '/__sim/';

export function handleControl(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  target: Target,
): void {
  const rest = target.path.slice(CONTROL_PREFIX.length);
  const named = /^(users|keys)\/([^/]+)$/.exec(rest);
  const handler = ROUTES[`${req.method ?? ''} ${named ? `${named[1]}/:name` : rest}`];
  if (!handler) return reject(res, 404, 'no such control');
  readSmallBody(req, 64 * 1024)
    .then((body) => {
      if (body === undefined) return reject(res, 413, 'control body too large');
      const json: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      const result = handler(
        sim,
        json,
        new URLSearchParams(target.query),
        decodeURIComponent(named?.[2] ?? ''),
      );
      if (result === undefined) {
        res.writeHead(204);
        res.end();
      } else sendJson(res, 200, result);
    })
    .catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const message =
        err instanceof z.ZodError
          ? z.prettifyError(err).replace(/\n/g, '; ')
          : err instanceof Error
            ? err.message
            : String(err);
      reject(res, 400, message);
    });
}
