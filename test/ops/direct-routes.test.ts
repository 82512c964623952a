import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createProbeServer, type OpsServer } from '../../src/ops/server';
import { captureLogs } from '../support/ops';

// Probes and /metrics are answered without Express; the pages load it on first use.

const run = promisify(execFile);
const DIST = join(__dirname, '..', '..', 'dist');

/** Runs in a fresh Node.js process, so the module cache says what was really loaded. */
const SCRIPT = `
const { createProbeServer } = require(${JSON.stringify(join(DIST, 'ops', 'server.js'))});
const { createLogger } = require(${JSON.stringify(join(DIST, 'ops', 'logger.js'))});
const expressLoaded = () => Object.keys(require.cache).some((f) => f.includes('/node_modules/express/'));
(async () => {
  const server = createProbeServer({
    probes: { ready: () => ({ ok: true }) },
    metrics: { contentType: 'text/plain; version=0.0.4; charset=utf-8', render: async () => 'up 1\\n' },
    logger: createLogger({ level: 'silent' }),
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const atStart = expressLoaded();
  const base = 'http://127.0.0.1:' + server.address().port;
  const seen = [];
  for (const path of ['/livez', '/readyz', '/metrics', '/nowhere']) {
    const res = await fetch(base + path);
    await res.text();
    seen.push({ path, status: res.status, expressLoaded: expressLoaded() });
  }
  await server.close();
  console.log(JSON.stringify({ atStart, seen }));
})();
`;

describe('ops listener routes', () => {
  it('answers the probes and /metrics without loading Express; the first page loads it', async () => {
    const { stdout } = await run(process.execPath, ['-e', SCRIPT]);
    expect(JSON.parse(stdout)).toEqual({
      atStart: false,
      seen: [
        { path: '/livez', status: 200, expressLoaded: false },
        { path: '/readyz', status: 200, expressLoaded: false },
        { path: '/metrics', status: 200, expressLoaded: false },
        { path: '/nowhere', status: 404, expressLoaded: true },
      ],
    });
  });

  describe('where Express used to route them', () => {
    let server: OpsServer;
    let base: string;
    let ready = true;

    beforeAll(async () => {
      server = createProbeServer({
        probes: { ready: () => ({ ok: ready }) },
        metrics: {
          contentType: 'text/plain; version=0.0.4; charset=utf-8',
          render: async () => 'up 1\n',
        },
        logger: captureLogs().logger,
      });
      await server.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${server.address()?.port}`;
    });

    afterAll(() => server.close());

    it('ignores the query', async () => {
      const res = await fetch(`${base}/readyz?verbose=1`);
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { status: 'ok', ok: true },
      });
    });

    it('answers 404 for another spelling of an endpoint (case, trailing slash)', async () => {
      for (const path of ['/readyz/', '/READYZ', '/Metrics', '/metrics/', '/LIVEZ', '/livez/']) {
        const res = await fetch(base + path);
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
        await res.arrayBuffer();
      }
    });

    it('answers JSON and text with the same headers Express sent', async () => {
      ready = false;
      const res = await fetch(`${base}/readyz`);
      ready = true;
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'not ready', ok: false });
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-powered-by')).toBeNull();
      const live = await fetch(`${base}/livez`);
      expect(live.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await live.text()).toBe('ok\n');
    });

    it('answers HEAD with the length of the body it leaves out', async () => {
      const res = await fetch(`${base}/metrics`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength('up 1\n')));
      expect(await res.text()).toBe('');
    });

    it('refuses other methods with 405 and Allow: GET, HEAD, on the webhook’s listener too', async () => {
      const res = await fetch(`${base}/readyz`, { method: 'POST' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(await res.json()).toEqual({ error: 'method not allowed', allow: 'GET, HEAD' });
    });

    it('lists the endpoints in the 404 of any other path', async () => {
      const res = await fetch(`${base}/nothing`, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: 'not found',
        endpoints: ['/livez', '/readyz', '/metrics'],
      });
    });
  });
});
