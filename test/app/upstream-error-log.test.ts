/**
 * A request Vidispine does not answer is logged once, as the `upstream_error` event naming
 * the user it was for: plain requests and WebSocket upgrades alike, and every line the
 * failure writes carries an `event`.
 */
import * as http from 'node:http';
import { call } from '../support/http';
import { closedPort } from '../support/net';
import { startApp, type RunningApp } from '../support/app';

type Line = Record<string, unknown>;

describe('upstream errors in the log', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ forwardTo: `http://127.0.0.1:${await closedPort()}` });
  });
  afterAll(() => app.close());

  /** The lines written while `act` runs. */
  async function linesOf(act: () => Promise<unknown>): Promise<Line[]> {
    const from = app.logs.length;
    await act();
    return app.logs.slice(from).map((text) => JSON.parse(text) as Line);
  }

  const withoutAccessLines = (lines: Line[]): Line[] => lines.filter((l) => l.event !== 'request');
  /** What a request to a port nobody listens on must write, besides its access line. */
  const ONE_REFUSED_LINE = [
    expect.objectContaining({
      level: 'warn',
      event: 'upstream_error',
      user: 'alice',
      reason: 'refused',
    }),
  ];

  it('a plain request: one upstream_error line with the user and the reason', async () => {
    const lines = await linesOf(async () => {
      expect((await call(app.port(), { path: '/API/whoami' })).status).toBe(502);
    });
    expect(withoutAccessLines(lines)).toEqual(ONE_REFUSED_LINE);
  });

  it('a WebSocket upgrade: one upstream_error line with the user and the reason', async () => {
    const lines = await linesOf(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = http.request({
            port: app.port(),
            host: '127.0.0.1',
            path: '/APIWS/echo',
            headers: {
              Connection: 'Upgrade',
              Upgrade: 'websocket',
              'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
              'Sec-WebSocket-Version': '13',
            },
          });
          req.once('response', (res) => {
            expect(res.statusCode).toBe(502);
            res.resume();
            res.once('end', resolve);
          });
          req.once('upgrade', () => reject(new Error('upgraded to a closed port')));
          req.once('error', reject);
          req.end();
        }),
    );
    expect(withoutAccessLines(lines)).toEqual(ONE_REFUSED_LINE);
  });
});
