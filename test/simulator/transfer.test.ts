import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { patternBytes, type Simulator } from '../../src/simulator';
import { startSimulator, type SimulatorHandle } from '../support/simulator';
import { readReply, basic, tokenAuth, uploadPattern, type Reply } from '../support/http';
import { until } from '../support/wait';

describe('transfers', () => {
  let sim: Simulator;
  let get: SimulatorHandle['get'];
  let token: string;

  beforeAll(async () => {
    let mint;
    ({ sim, get, mint } = await startSimulator());
    token = await mint('alice', 'alice-password', '');
  });
  afterAll(() => sim.close());

  const auth = (): Record<string, string> => ({ authorization: tokenAuth(token) });
  const port = (): number => Number(new URL(sim.url).port);

  describe('import/raw', () => {
    it('streams a chunked body and answers byte count, SHA-256 and the transfer fields', async () => {
      const chunk = Buffer.alloc(1 << 20, 7);
      const total = 24;
      const hash = createHash('sha256');
      const r = await new Promise<Reply>((resolve, reject) => {
        const req = request(
          `${sim.url}/API/import/raw?transferId=T-1&filename=a%20b.mxf`,
          {
            method: 'PUT',
            headers: { ...auth(), index: '0', size: String(total * chunk.length) },
            agent: false,
          },
          (res) => readReply(res).then(resolve, reject),
        );
        req.on('error', reject);
        let sent = 0;
        const write = (): void => {
          while (sent < total) {
            sent += 1;
            hash.update(chunk);
            if (!req.write(chunk)) return void req.once('drain', write);
          }
          req.end();
        };
        write();
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toEqual({
        transferId: 'T-1',
        filename: 'a b.mxf',
        index: 0,
        size: total * chunk.length,
        bytes: total * chunk.length,
        sha256: hash.digest('hex'),
      });
    });

    it('POST works too; an empty body is zero bytes', async () => {
      const r = await get('/API/import/raw', { method: 'POST', headers: auth() });
      expect(JSON.parse(r.text)).toMatchObject({
        bytes: 0,
        sha256: createHash('sha256').digest('hex'),
      });
    });

    it('400 for a malformed index or size header', async () => {
      expect(
        (
          await get('/API/import/raw', {
            method: 'POST',
            headers: { ...auth(), index: '-1' },
            body: 'x',
          })
        ).status,
      ).toBe(400);
      expect(
        (
          await get('/API/import/raw', {
            method: 'POST',
            headers: { ...auth(), size: 'big' },
            body: 'x',
          })
        ).status,
      ).toBe(400);
    });

    it('reports index and size digit for digit up to a Java long, past 2^53 (JSON numbers, never rounded)', async () => {
      const r = await get('/API/import/raw', {
        method: 'POST',
        headers: { ...auth(), index: '9007199254740993', size: '9223372036854775807' },
        body: 'x',
      });
      expect(r.status).toBe(200);
      expect(r.text).toContain('"index":9007199254740993,"size":9223372036854775807,"bytes":1,');
    });

    it('400 for an index or size above a Java long (2^63 − 1), as Vidispine refuses it', async () => {
      for (const name of ['index', 'size']) {
        const r = await get('/API/import/raw', {
          method: 'POST',
          headers: { ...auth(), [name]: '9223372036854775808' },
          body: 'x',
        });
        expect(r.status).toBe(400);
      }
    });
  });

  describe('signed upload URL (/APInoauth/import/raw)', () => {
    it('takes an upload without credentials when it carries the passkey', async () => {
      const size = 3 * 1024 * 1024 + 17;
      const r = await uploadPattern(port(), size, {
        method: 'PUT',
        path: '/APInoauth/import/raw?transferId=S-1&filename=f.mxf&passkey=demo-upload-passkey',
        headers: { expect: '100-continue' },
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toEqual({
        transferId: 'S-1',
        filename: 'f.mxf',
        index: null,
        size: null,
        bytes: size,
        sha256: createHash('sha256').update(patternBytes(0, size)).digest('hex'),
      });
      const viaHash = await get('/APInoauth/import/raw?hash=demo-upload-passkey', {
        method: 'POST',
        body: 'abc',
      });
      expect(JSON.parse(viaHash.text)).toMatchObject({ bytes: 3 });
    });

    it.each([
      ['a wrong passkey', '?passkey=guess'],
      ['no passkey', '?transferId=x'],
    ])('refuses %s with 403, before any body is read', async (_name, query) => {
      const r = await get(`/APInoauth/import/raw${query}`, { method: 'POST', body: 'abc' });
      expect(r.status).toBe(403);
      expect(r.text).toBe('signed URL refused: wrong or missing passkey\n');
      expect(r.headers['www-authenticate']).toBeUndefined();
      expect((await get('/APInoauth/import/raw?passkey=demo-upload-passkey')).status).toBe(405);
    });

    it('takes the passkey it was given', async () => {
      const other = await startSimulator({ uploadPasskey: 'k-123' });
      try {
        const send = (key: string): Promise<Reply> =>
          other.get(`/APInoauth/import/raw?passkey=${key}`, { method: 'PUT', body: 'x' });
        expect((await send('demo-upload-passkey')).status).toBe(403);
        expect((await send('k-123')).status).toBe(200);
      } finally {
        await other.sim.close();
      }
    });
  });

  describe('Expect: 100-continue (as Jetty: credentials first)', () => {
    function open(): Promise<{ socket: Socket; next: () => Promise<string> }> {
      return new Promise((resolve) => {
        const socket = connect(port(), '127.0.0.1', () => {
          let buffered = '';
          let waiter: (() => void) | undefined;
          socket.setEncoding('latin1');
          socket.on('data', (d: string) => {
            buffered += d;
            waiter?.();
          });
          socket.on('close', () => waiter?.());
          // Resolves with whatever arrived once the server sent something (or closed).
          const next = (): Promise<string> =>
            new Promise((done) => {
              const take = (): void => {
                waiter = undefined;
                const out = buffered;
                buffered = '';
                done(out);
              };
              if (buffered || socket.destroyed) take();
              else waiter = take;
            });
          resolve({ socket, next });
        });
      });
    }
    const head = (authorization: string, length: number): string =>
      `PUT /API/import/raw?transferId=x HTTP/1.1\r\nHost: sim\r\nAuthorization: ${authorization}\r\n` +
      `Content-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;

    it('a bad token gets 401 before any body is read, and the connection closes', async () => {
      const { socket, next } = await open();
      socket.write(head(tokenAuth('bogus'), 1_000_000));
      const answer = await next();
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer).not.toContain('100 Continue');
      expect(answer).toMatch(/www-authenticate: Basic realm="/i);
      await new Promise((r) => (socket.destroyed ? r(null) : socket.once('close', r)));
    });

    it('a good token gets 100 Continue, then the body is read', async () => {
      const { socket, next } = await open();
      socket.write(head(tokenAuth(token), 5));
      expect(await next()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
      socket.write('hello');
      const answer = await next();
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toContain(`"bytes":5`);
      expect(answer).toContain(createHash('sha256').update('hello').digest('hex'));
      socket.destroy();
    });

    it('Basic credentials pass the same gate', async () => {
      const { socket, next } = await open();
      socket.write(head(basic('bob', 'nope'), 5));
      expect(await next()).toMatch(/^HTTP\/1\.1 401 /);
      socket.destroy();
    });
  });

  describe('storage file data', () => {
    const data = (
      query: string,
      headers: Record<string, string> = {},
      method = 'GET',
    ): Promise<Reply> =>
      get(`/API/storage/file/VX-7/data${query}`, { method, headers: { ...auth(), ...headers } });

    it('streams N deterministic bytes', async () => {
      const r = await data('?size=300000');
      expect(r.status).toBe(200);
      expect(r.headers['content-length']).toBe('300000');
      expect(r.headers['accept-ranges']).toBe('bytes');
      expect(r.body.equals(patternBytes(0, 300_000))).toBe(true);
    });

    it.each([
      ['bytes=0-9', 0, 9],
      ['bytes=100-', 100, 999],
      ['bytes=-10', 990, 999],
      ['bytes=990-5000', 990, 999],
      ['bytes=251-251', 251, 251],
    ])('Range %s → 206 with the right slice', async (range, start, end) => {
      const r = await data('?size=1000', { range });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/1000`);
      expect(r.body.equals(patternBytes(start, end - start + 1))).toBe(true);
    });

    it.each(['bytes=1000-', 'bytes=-0'])('Range %s → 416 with the size', async (range) => {
      const r = await data('?size=1000', { range });
      expect(r.status).toBe(416);
      expect(r.headers['content-range']).toBe('bytes */1000');
    });

    it.each(['bytes=0-1,5-6', 'items=0-1', 'bytes=9-2'])(
      'Range %s is ignored → 200 full',
      async (range) => {
        const r = await data('?size=1000', { range });
        expect(r.status).toBe(200);
        expect(r.body.length).toBe(1000);
      },
    );

    it('HEAD answers the headers only', async () => {
      const r = await data('?size=1000', { range: 'bytes=10-19' }, 'HEAD');
      expect(r.status).toBe(206);
      expect(r.headers['content-length']).toBe('10');
      expect(r.body.length).toBe(0);
    });

    it.each(['', '?size=-1', '?size=abc'])('%j → 400', async (q) => {
      expect((await data(q)).status).toBe(400);
    });

    it('a client leaving a huge download frees the request', async () => {
      await new Promise<void>((resolve, reject) => {
        const req = request(
          `${sim.url}/API/storage/file/1/data?size=${2 ** 40}`,
          { headers: auth(), agent: false },
          (res) => {
            let got = 0;
            res.on('data', (d: Buffer) => {
              got += d.length;
              if (got > 4 << 20) {
                req.destroy();
                resolve();
              }
            });
          },
        );
        req.on('error', (e: NodeJS.ErrnoException) =>
          e.code === 'ECONNRESET' ? undefined : reject(e),
        );
        req.end();
      });
      await until(() => sim.inFlightRequests() === 0 && sim.openConnections() === 0);
    });
  });

  describe('slow endpoint', () => {
    it('answers after ms', async () => {
      const started = Date.now();
      const r = await get('/API/slow?ms=60', { headers: auth() });
      expect(r.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    });

    it('answers HEAD as every GET resource of a JAX-RS server does: its headers alone', async () => {
      const r = await get('/API/slow?ms=1', { headers: auth(), method: 'HEAD' });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.text).toBe('');
    });

    it('400 for a bad ms; aborting frees the request', async () => {
      expect((await get('/API/slow?ms=x', { headers: auth() })).status).toBe(400);
      const req = request(`${sim.url}/API/slow?ms=600000`, { headers: auth(), agent: false });
      req.on('error', () => undefined);
      req.end();
      await until(() => sim.inFlightRequests() === 1);
      req.destroy();
      await until(() => sim.inFlightRequests() === 0);
    });
  });
});
