import * as net from 'node:net';
import { MetricsRegistry } from '../../src/ops/metrics-registry';
import { Gauge } from '../../src/ops/prom';
import { createProbeServer, type MetricsSource, type OpsServer } from '../../src/ops/server';
import { captureLogs, ScriptedTokens } from '../support/ops';
import { parseExposition, value } from '../support/prom-parse';
import { rawRequest } from '../support/raw-client';
import { settle } from '../support/wait';

// Scrapes of /metrics share renders (src/ops/render-coalescing.ts), over real sockets.

const CONNECTIONS = 100;
const PER_CONNECTION = 2;
const SCRAPE = 'GET /metrics HTTP/1.1\r\nHost: ops\r\n\r\n';
const HEAD_SCRAPE = 'HEAD /metrics HTTP/1.1\r\nHost: ops\r\n\r\n';
const ERRORS = 'vidispine_auth_proxy_upstream_errors_total';

let server: OpsServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function listen(metrics: MetricsSource): Promise<{ port: number; lines: object[] }> {
  const logs = captureLogs();
  server = createProbeServer({
    probes: { ready: () => ({ ok: true }) },
    metrics,
    logger: logs.logger,
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  return { port: server.address()?.port ?? 0, lines: logs.lines };
}

/** The proxy's registry, with a gauge that counts its renders (each answer says which it was). */
function countedRegistry(): { registry: MetricsRegistry; renders: () => number } {
  const registry = new MetricsRegistry({
    users: ['ingest'],
    tokens: new ScriptedTokens(['ingest'], Date.now),
    defaultMetrics: false,
  });
  let renders = 0;
  new Gauge({
    name: 'renders',
    help: 'Renders of this registry so far.',
    registers: [registry.registry],
    collect() {
      renders += 1;
      this.set(renders);
    },
  });
  return { registry, renders: () => renders };
}

describe('scrapes of /metrics', () => {
  it('share renders when 200 come at once, each showing every event before it', async () => {
    const { registry, renders } = countedRegistry();
    const { port } = await listen(registry);
    let events = 0;
    const event = (): number => {
      registry.upstreamError('refused');
      return (events += 1);
    };

    // 100 connections (the listener holds 128) with two scrapes pipelined on each, the
    // counter counted up just before each is sent; opened one per turn of the event loop,
    // so the counting, the scrapes' arrivals and the renders interleave.
    const connections: Array<Promise<{ before: number[]; answers: string[] }>> = [];
    for (let c = 0; c < CONNECTIONS; c += 1) {
      const before = Array.from({ length: PER_CONNECTION }, event);
      connections.push(
        rawRequest(port, SCRAPE.repeat(PER_CONNECTION), {
          responses: PER_CONNECTION,
          timeoutMs: 20_000,
        }).then(({ responses }) => {
          for (const res of responses) {
            expect(res.status).toBe(200);
            expect(res.header('content-type')).toBe(registry.contentType);
            expect(res.header('cache-control')).toBe('no-store');
            expect(res.header('content-length')).toBe(String(res.body.length));
          }
          return { before, answers: responses.map((res) => res.body.toString()) };
        }),
      );
      await settle();
    }
    const done = await Promise.all(connections);

    const seen = done.flatMap(({ before, answers }) =>
      answers.map((text, i) => {
        const exposition = parseExposition(text);
        return {
          atSend: before[i],
          shown: value(exposition, ERRORS, { reason: 'refused' }),
          render: value(exposition, 'renders'),
        };
      }),
    );
    expect(seen).toHaveLength(CONNECTIONS * PER_CONNECTION);
    // Never stale: every answer counts the event made just before its scrape was sent.
    expect(seen.filter((s) => s.shown === undefined || s.shown < (s.atSend ?? 0))).toEqual([]);
    // Far fewer renders than scrapes (one each before: 200).
    const used = new Set(seen.map((s) => s.render));
    expect(renders()).toBeLessThan(CONNECTIONS * PER_CONNECTION * 0.2);
    expect(used.size).toBeLessThanOrEqual(renders());
  });

  it('answer HEAD from a shared render with the length of the body it leaves out', async () => {
    const { registry } = countedRegistry();
    const { port } = await listen(registry);
    const { responses } = await rawRequest(port, SCRAPE + HEAD_SCRAPE + SCRAPE, {
      responses: 3,
      head: [false, true, false],
    });
    expect(responses.map((res) => res.status)).toEqual([200, 200, 200]);
    const [, head, get] = responses;
    expect(head.body.length).toBe(0);
    expect(head.header('content-type')).toBe(registry.contentType);
    // The HEAD and the GET after it came together, after the first GET's render: they
    // share the next one.
    expect(head.header('content-length')).toBe(String(get.body.length));
    expect(value(parseExposition(get.body.toString()), 'renders')).toBe(2);
  });

  it('answer 500 to every scrape of a failed render, log it, and render anew for the next', async () => {
    let fail = true;
    const { port, lines } = await listen({
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      render: () =>
        fail ? Promise.reject(new Error('collect failed')) : Promise.resolve('up 1\n'),
    });
    const failed = await rawRequest(port, SCRAPE.repeat(3), { responses: 3 });
    expect(failed.responses.map((res) => [res.status, res.body.toString()])).toEqual(
      Array(3).fill([500, '{"error":"internal error"}']),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'ops_request_failed', path: '/metrics' }),
    );
    fail = false;
    const after = await rawRequest(port, SCRAPE);
    expect(after.responses.map((res) => [res.status, res.body.toString()])).toEqual([
      [200, 'up 1\n'],
    ]);
  });

  it('drop a waiting scrape whose client left, and go on answering', async () => {
    const { registry, renders } = countedRegistry();
    const { port, lines } = await listen(registry);
    await rawRequest(port, SCRAPE);
    // Comes just after a render, so it waits for the next; its client leaves meanwhile.
    const leaving = net.connect(port, '127.0.0.1');
    leaving.on('error', () => undefined);
    leaving.write(SCRAPE);
    const closed = new Promise((resolve) => leaving.once('close', resolve));
    leaving.on('data', () => leaving.destroy());
    await settle();
    leaving.destroy();
    await closed;
    const after = await rawRequest(port, SCRAPE);
    expect(after.responses[0]?.status).toBe(200);
    expect(value(parseExposition(after.responses[0].body.toString()), 'renders')).toBe(renders());
    expect(lines.filter((line) => 'err' in line)).toEqual([]);
  });
});
