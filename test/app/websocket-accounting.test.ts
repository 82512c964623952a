/**
 * A WebSocket upgrade is a request like any other for the metrics, the status page and the
 * access log: counted once answered, by the status the client got (`101`, or the refusal),
 * and in flight only until then — the session that follows is no longer a request.
 */
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../support/app';
import { until } from '../support/wait';

type Line = Record<string, unknown>;

describe('WebSocket upgrades in the request metrics and the access log', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ raw: { proxy: { accessLog: true } } });
  });
  afterAll(() => app.close());

  const requestLines = (): Line[] =>
    app.logs.map((text) => JSON.parse(text) as Line).filter((l) => l.event === 'request');

  /** The status the proxy answered an upgrade with, and the socket when it switched. */
  function upgrade(): Promise<{ status: number; ws?: WebSocket }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${app.port()}/APIWS/echo`);
      ws.once('open', () => resolve({ status: 101, ws }));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      ws.once('error', reject);
    });
  }

  it('counts a switched upgrade as 101, no longer in flight while the session lasts', async () => {
    const { status, ws } = await upgrade();
    expect(status).toBe(101);
    await until(() => requestLines().length === 1, 5000, 'the access line');
    expect(await app.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);
    expect(
      await app.metric('vidispine_auth_proxy_requests_total', {
        user: 'alice',
        method: 'GET',
        code: '101',
      }),
    ).toBe(1);
    expect(requestLines()).toEqual([
      expect.objectContaining({
        user: 'alice',
        method: 'GET',
        path: '/APIWS/echo',
        status: 101,
        remoteAddress: '127.0.0.1',
      }),
    ]);
    const closed = new Promise((resolve) => ws?.once('close', resolve));
    ws?.close();
    await closed;
  });

  it('counts an upgrade refused for want of a token as 503', async () => {
    app.sim.failTokenEndpoints({ kind: 'status', status: 500 });
    app.sim.revokeAllTokens();
    // The upgrade meets the dead token: checked, dropped, and no new one can be had.
    expect((await upgrade()).status).toBe(503);
    app.sim.healTokenEndpoints();
    await until(() => requestLines().length === 2, 5000, 'the access line');
    expect(requestLines()[1]).toMatchObject({ path: '/APIWS/echo', status: 503 });
    expect(
      await app.metric('vidispine_auth_proxy_requests_total', {
        user: 'alice',
        method: 'GET',
        code: '503',
      }),
    ).toBe(1);
    expect(await app.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);
  });
});
