import WebSocket from 'ws';
import type { Simulator } from '../../src/simulator';
import { startSimulator } from '../support/simulator';
import { basic, tokenAuth } from '../support/http';
import { rawExchange } from '../support/net';
import { H2C_OFFER, expectServedPlain, uploadOfferingH2c } from '../support/h2c-offer';
import { rawRequest } from '../support/raw-client';

describe('WebSocket under /APIWS/', () => {
  let sim: Simulator;
  let token: string;

  beforeEach(async () => {
    let mint;
    ({ sim, mint } = await startSimulator());
    token = await mint('alice', 'alice-password');
  });
  afterEach(() => sim.close());

  const wsUrl = (path: string): string => `${sim.url.replace('http', 'ws')}${path}`;

  function opened(ws: WebSocket): Promise<void> {
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  function refusal(ws: WebSocket): Promise<{ status: number; challenge?: string }> {
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] });
        res.resume();
      });
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', () => undefined);
    });
  }

  it('echoes text and binary messages for a valid token', async () => {
    const ws = new WebSocket(wsUrl('/APIWS/updates'), {
      headers: { authorization: tokenAuth(token) },
    });
    await opened(ws);
    const replies: Array<{ data: string; binary: boolean }> = [];
    const two = new Promise<void>((resolve) =>
      ws.on('message', (data, binary) => {
        replies.push({ data: Buffer.from(data as Buffer).toString(), binary });
        if (replies.length === 2) resolve();
      }),
    );
    ws.send('hello');
    ws.send(Buffer.from('bin'));
    await two;
    expect(replies).toEqual([
      { data: 'hello', binary: false },
      { data: 'bin', binary: true },
    ]);
    expect(sim.calls({ endpoint: 'ws', user: 'alice' })).toBe(1);
    ws.close();
  });

  it('refuses missing or bad credentials with 401 and a challenge', async () => {
    for (const headers of [
      {},
      { authorization: tokenAuth('nope') },
      { authorization: basic('alice', 'x') },
    ]) {
      const r = await refusal(new WebSocket(wsUrl('/APIWS/updates'), { headers }));
      expect(r.status).toBe(401);
      expect(r.challenge).toMatch(/^Basic realm=/);
    }
  });

  it('refuses upgrades outside /APIWS/ with 404', async () => {
    const r = await refusal(
      new WebSocket(wsUrl('/API/whoami'), { headers: { authorization: tokenAuth(token) } }),
    );
    expect(r.status).toBe(404);
  });

  it('answers an upgrade 503 No server available while the backend is down', async () => {
    sim.setBackendAvailable(false);
    const answer = await rawExchange(
      Number(new URL(sim.url).port),
      'GET /APIWS/updates HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `Authorization: ${tokenAuth(token)}\r\n\r\n`,
    );
    expect(answer.status).toBe(503);
    expect(answer.text).toMatch(/\r\nContent-Length: 20\r\n/i);
    expect(answer.text.endsWith('\r\n\r\nNo server available\n')).toBe(true);
    expect(answer.closed).toBe(true);
    sim.setBackendAvailable(true);
    const ws = new WebSocket(wsUrl('/APIWS/x'), { headers: { authorization: tokenAuth(token) } });
    await opened(ws);
    ws.close();
  });

  it('serves a request offering another protocol (Upgrade: h2c) as a plain one', async () => {
    const port = Number(new URL(sim.url).port);
    const auth = `Authorization: ${basic('alice', 'alice-password')}\r\n`;
    expectServedPlain(await uploadOfferingH2c(port, auth));
    for (const [path, body] of [
      ['/API/whoami', 'alice'],
      ['/APInoauth/is-online', 'true'],
    ]) {
      const r = await rawRequest(
        port,
        `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}${H2C_OFFER}\r\n`,
      );
      expect(r.responses.map((x) => [x.status, x.body.toString()])).toEqual([[200, body]]);
    }
    expect(sim.calls({ endpoint: 'ws' })).toBe(0);
  });

  it('close() terminates open WebSockets', async () => {
    const ws = new WebSocket(wsUrl('/APIWS/x'), { headers: { authorization: tokenAuth(token) } });
    await opened(ws);
    expect(sim.openConnections()).toBe(1);
    const closed = new Promise((resolve) => ws.once('close', resolve));
    await sim.close();
    await closed;
    expect(sim.openConnections()).toBe(0);
  });
});
