import type { Simulator } from '../../src/simulator';
import { startSimulator, type SimulatorHandle } from '../support/simulator';
import { basic, type Reply } from '../support/http';
import { rawExchange } from '../support/net';

describe('item resource', () => {
  let sim: Simulator;
  let get: SimulatorHandle['get'];
  const auth = { authorization: basic('alice', 'alice-password') };
  const json = (r: Reply): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>;

  beforeEach(async () => {
    ({ sim, get } = await startSimulator());
  });
  afterEach(() => sim.close());

  it('serves the seeded item and echoes the target and its matrix parameters verbatim', async () => {
    const uri = '/API/item/VX-1;version=3;x=a%2Fb/metadata?field=title&p=%20q';
    const r = await get(uri, { headers: auth });
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({
      id: 'VX-1',
      metadata: { title: 'Sample item' },
      request: { method: 'GET', uri, matrix: { version: '3', x: 'a%2Fb' } },
    });
  });

  it('POST creates an item: 201 + Location on the origin the Host header names', async () => {
    const r = await get('/API/item', {
      method: 'POST',
      headers: { ...auth, host: 'vidispine.example:8080', 'content-type': 'application/json' },
      body: '{"title":"new"}',
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe('http://vidispine.example:8080/API/item/VX-2');
    expect(json(r)).toMatchObject({ id: 'VX-2', metadata: { title: 'new' } });
    const back = await get(new URL(r.headers.location ?? '').pathname, { headers: auth });
    expect(json(back)).toMatchObject({ id: 'VX-2', metadata: { title: 'new' } });
  });

  it('POST ?respond=303 answers See Other with a Location on the origin the Host names', async () => {
    const r = await get('/API/item?respond=303', {
      method: 'POST',
      headers: { ...auth, host: 'localhost:1234' },
    });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('http://localhost:1234/API/item/VX-2');
    expect(r.body.length).toBe(0);
  });

  it('builds Location on the listening address for a request without Host (HTTP/1.0)', async () => {
    const { port } = new URL(sim.url);
    const answer = await rawExchange(
      Number(port),
      `POST /API/item?respond=303 HTTP/1.0\r\nAuthorization: ${auth.authorization}\r\n` +
        'Content-Length: 2\r\n\r\n{}',
    );
    expect(answer.status).toBe(303);
    expect(answer.text).toContain(`\r\nlocation: ${sim.url}/API/item/VX-2\r\n`);
  });

  it('PUT merges metadata fields and bumps the ETag; If-None-Match gets 304', async () => {
    const first = await get('/API/item/VX-1', { headers: auth });
    const etag = first.headers.etag ?? '';
    expect(etag).toMatch(/^".+"$/);
    expect(
      (await get('/API/item/VX-1', { headers: { ...auth, 'if-none-match': etag } })).status,
    ).toBe(304);

    const put = await get('/API/item/VX-1/metadata', {
      method: 'PUT',
      headers: auth,
      body: '{"rating":"5"}',
    });
    expect(put.status).toBe(200);
    expect(json(put)).toMatchObject({ metadata: { title: 'Sample item', rating: '5' } });
    expect(put.headers.etag).not.toBe(etag);
    const after = await get('/API/item/VX-1', { headers: { ...auth, 'if-none-match': etag } });
    expect(after.status).toBe(200);
  });

  it('If-None-Match compares weakly (RFC 9110 §13.1.2), takes a list and *', async () => {
    const etag = (await get('/API/item/VX-1', { headers: auth })).headers.etag ?? '';
    const status = async (inm: string): Promise<number> =>
      (await get('/API/item/VX-1', { headers: { ...auth, 'if-none-match': inm } })).status;
    expect(await status(`W/${etag}`)).toBe(304);
    expect(await status(`"other", W/"x,y" , ${etag}`)).toBe(304);
    expect(await status('*')).toBe(304);
    expect(await status('"other", W/"VX-1"')).toBe(200);
    expect(await status(etag.slice(1, -1))).toBe(200);
  });

  it.each(['not json', '[1]', '{"n":1}'])('PUT %j → 400 with a one-line reason', async (body) => {
    const r = await get('/API/item/VX-1/metadata', { method: 'PUT', headers: auth, body });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/^[^\n]+\n$/);
  });

  it('404 for an unknown item, 405 for a wrong method, 401 without credentials', async () => {
    expect((await get('/API/item/VX-999', { headers: auth })).status).toBe(404);
    const r = await get('/API/item/VX-1', { method: 'DELETE', headers: auth });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    expect((await get('/API/item/VX-1')).status).toBe(401);
  });
});
