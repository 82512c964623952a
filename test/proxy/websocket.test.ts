import WebSocket from 'ws';
import { basic } from '../support/http';
import { startHarness, type Harness } from '../support/app';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

function open(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const challenge = res.headers['www-authenticate'] === undefined ? '' : ' with a challenge';
      reject(new Error(`upgrade refused: ${res.statusCode}${challenge}`));
    });
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
  );
}

it('upgrades /APIWS/ with our token instead of the client credentials and echoes both ways', async () => {
  const before = h.sim.calls({ endpoint: 'ws', user: 'alice' });
  const ws = await open(`ws://127.0.0.1:${h.port}/APIWS/echo?x=1`, {
    authorization: basic('alice', 'wrong-password'),
  });
  expect(h.sim.calls({ endpoint: 'ws', user: 'alice' })).toBe(before + 1);

  const text = nextMessage(ws);
  ws.send('hello through the proxy');
  expect((await text).data.toString()).toBe('hello through the proxy');

  const payload = Buffer.alloc(256 * 1024, 7);
  const binary = nextMessage(ws);
  ws.send(payload);
  const echoed = await binary;
  expect(echoed.binary).toBe(true);
  expect(echoed.data.equals(payload)).toBe(true);

  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await closed;
});

it('refuses the upgrade with 503 when no token can be minted', async () => {
  h.sim.revokeAllTokens();
  h.sim.failTokenEndpoints({ kind: 'status', status: 500 });
  // The held token is dead: the first upgrade meets Vidispine's 401 (passed on without its
  // challenge) and invalidates it; the next finds no token to mint.
  await expect(open(`ws://127.0.0.1:${h.port}/APIWS/echo`, {})).rejects.toThrow(
    /^upgrade refused: 401$/,
  );
  await expect(open(`ws://127.0.0.1:${h.port}/APIWS/echo`, {})).rejects.toThrow(
    'upgrade refused: 503',
  );
  h.sim.healTokenEndpoints();
});
