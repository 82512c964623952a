/** An https Vidispine: verified against the system roots plus `vidispine.caFile`, never skipped. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
// The module object itself, which Node's `tls.connect` calls through: a spy on it sees each
// context made (a namespace import is a copy).
import tlsModule from 'node:tls';
import WebSocket from 'ws';
import { createSimulator } from '../../src/simulator';
import { createTestCa } from '../support/certificates';
import { ChildProxy, aliceEnv } from '../support/child-proxy';
import { call } from '../support/http';
import { lookupWithoutTrailingDot } from '../support/net';
import { startHarness } from '../support/app';

let dir: string;
let front: tls.Server;
let frontUrl: string;

/** TLS in front of a plain upstream, with a certificate only our CA file vouches for. */
async function tlsFront(upstreamPort: () => number): Promise<void> {
  front = tls.createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (socket) => {
      const plain = net.connect(upstreamPort(), '127.0.0.1');
      socket.on('error', () => plain.destroy());
      plain.on('error', () => socket.destroy());
      socket.pipe(plain).pipe(socket);
    },
  );
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  frontUrl = `https://127.0.0.1:${(front.address() as net.AddressInfo).port}`;
}

let simPort = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'proxy-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=vidispine-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  await tlsFront(() => simPort);
});
afterAll(async () => {
  await new Promise((resolve) => front.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('forwards over TLS when the CA file vouches for Vidispine', async () => {
  const h = await startHarness({
    forwardTo: frontUrl,
    vidispine: { caFile: join(dir, 'cert.pem') },
  });
  simPort = Number(new URL(h.sim.url).port);
  try {
    const reply = await call(h.port, { path: '/API/whoami' });
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('alice');
  } finally {
    await h.close();
  }
});

it('refuses an unverifiable certificate with 502 instead of trusting it', async () => {
  const h = await startHarness({ forwardTo: frontUrl });
  simPort = Number(new URL(h.sim.url).port);
  try {
    const reply = await call(h.port, { path: '/API/whoami' });
    expect(reply.status).toBe(502);
    expect(h.observer.upstreamErrors).toEqual(['tls']);
  } finally {
    await h.close();
  }
});

it('keeps the CA file it started with when the file goes away later', async () => {
  // Read at start, like every setting: a CA file replaced or removed while running changes
  // nothing, for requests with a body or without, whichever comes first.
  const caFile = join(dir, 'ca-copy.pem');
  copyFileSync(join(dir, 'cert.pem'), caFile);
  const h = await startHarness({ forwardTo: frontUrl, vidispine: { caFile } });
  simPort = Number(new URL(h.sim.url).port);
  rmSync(caFile);
  try {
    const replies = [
      await call(h.port, { path: '/API/whoami' }),
      await call(h.port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
  } finally {
    await h.close();
  }
});

describe('a Vidispine port that accepts connections but never completes a TLS handshake', () => {
  let silent: net.Server;
  const held = new Set<net.Socket>();
  beforeAll(async () => {
    silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  // The handshake is part of connecting, on every route to Vidispine; left to the response
  // timeout (30 s here) it held a request with a body, or an upgrade, twice that long.
  it('answers 504 once connectTimeoutSeconds passed, with a body, without one, or upgrading', async () => {
    const h = await startHarness({
      forwardTo: `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
      vidispine: { connectTimeoutSeconds: 0.3 },
    });
    try {
      const upgrade = new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${h.port}/APIWS/echo`);
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => reject(new Error('opened')));
        ws.once('error', reject);
      });
      const replies = await Promise.all([
        call(h.port, { path: '/API/whoami' }),
        call(h.port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
        call(h.port, { method: 'POST', path: '/API/import/raw', body: 'x'.repeat(2 << 20) }),
      ]);
      expect(replies.map((r) => [r.status, r.text])).toEqual(
        Array(3).fill([504, 'Vidispine did not answer in time\n']),
      );
      expect(await upgrade).toBe(504);
      expect(h.observer.upstreamErrors).toEqual(Array(4).fill('timeout'));
    } finally {
      await h.close();
    }
  }, 15_000);
});

describe('a Vidispine port that refuses the TLS handshake', () => {
  /** What the port writes back to the ClientHello, then closes. */
  let answer = Buffer.alloc(0);
  let refusing: net.Server;
  beforeAll(async () => {
    refusing = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(answer));
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => refusing.close(resolve)));

  // OpenSSL's own line (`80CC53A30D7F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3
  // alert handshake failure:../deps/openssl/…/rec_layer_s3.c:1601:SSL alert number 40`) ran
  // past the 200 characters of a detail, cutting off the code that names the failure.
  it.each([
    [
      'a handshake_failure alert',
      Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
      // OpenSSL 3.0 (Node 20) names the alert "sslv3 alert …", OpenSSL 3.5 (Node 24) "ssl/tls alert …".
      /^(sslv3|ssl\/tls) alert handshake failure, SSL alert number 40 \(ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE\)$/,
      /^write EPROTO (sslv3|ssl\/tls) alert handshake failure, SSL alert number 40$/,
    ],
    [
      'plain HTTP',
      Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'),
      /^wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\)$/,
      /^write EPROTO wrong version number$/,
    ],
  ])('logs %s as OpenSSL names it, with its code', async (_, bytes, pooled, withBody) => {
    answer = bytes;
    const h = await startHarness({
      forwardTo: `https://127.0.0.1:${(refusing.address() as net.AddressInfo).port}`,
    });
    try {
      await call(h.port, { path: '/API/whoami' });
      await call(h.port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' });
      expect(h.observer.upstreamErrorDetails).toEqual([
        expect.stringMatching(pooled),
        expect.stringMatching(withBody),
      ]);
    } finally {
      await h.close();
    }
  });

  // OpenSSL reports both as EPROTO to the client that writes the request as the handshake
  // runs (node:http's, for requests with a body): that was "the request to Vidispine
  // failed" and `other`, where undici's pool, for requests without one, said TLS.
  it.each([
    ['a handshake_failure alert', Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])],
    ['plain HTTP', Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')],
  ])('answers %s with 502 and reason tls, with a body or without', async (_, bytes) => {
    answer = bytes;
    const h = await startHarness({
      forwardTo: `https://127.0.0.1:${(refusing.address() as net.AddressInfo).port}`,
    });
    try {
      const replies = [
        await call(h.port, { path: '/API/whoami' }),
        await call(h.port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
      ];
      expect(replies.map((r) => [r.status, r.text])).toEqual(
        Array(2).fill([502, 'the TLS handshake with Vidispine failed\n']),
      );
      expect(h.observer.upstreamErrors).toEqual(['tls', 'tls']);
    } finally {
      await h.close();
    }
  });
});

describe('a fully qualified host name with its trailing dot (vidispine.media.svc.cluster.local.)', () => {
  // RFC 6066 §3: the name in SNI goes "without a trailing dot"; Java's TLS stack, VidiCore's,
  // refuses one ("Illegal server name") and ends the handshake.
  it('is sent in SNI without the dot, and verified, with a body or without', async () => {
    const ca = await createTestCa();
    const pair = await ca.issue({ dns: ['localhost'] });
    const caFile = join(dir, 'fqdn-ca.pem');
    writeFileSync(caFile, ca.certPem);
    const names: (string | false | null)[] = [];
    let upstreamPort = 0;
    const server = tls.createServer({ key: pair.keyPem, cert: pair.certPem }, (socket) => {
      names.push(socket.servername);
      const plain = net.connect(upstreamPort, '127.0.0.1');
      socket.on('error', () => plain.destroy());
      plain.on('error', () => socket.destroy());
      socket.pipe(plain).pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const spy = lookupWithoutTrailingDot();
    const h = await startHarness({
      forwardTo: `https://localhost.:${(server.address() as net.AddressInfo).port}`,
      vidispine: { caFile },
    });
    upstreamPort = Number(new URL(h.sim.url).port);
    try {
      const replies = [
        await call(h.port, { path: '/API/whoami' }),
        await call(h.port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
      ];
      expect(replies.map((r) => r.status)).toEqual([200, 200]);
      expect(names).toEqual(['localhost', 'localhost']);
    } finally {
      spy.mockRestore();
      await h.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('Vidispine resetting every new connection, with a CA file', () => {
  let resetting: net.Server;
  beforeAll(async () => {
    resetting = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => resetting.close(resolve)));

  // Each TLS context holds Node's ~150 roots plus the CA file, parsed anew (about 1 MB of
  // native memory, out of the garbage collector's sight): one per connection, 1,000 requests
  // to a Vidispine that resets took the proxy from 57 MiB to 930 MiB of RSS.
  it('opens every connection with the one TLS context built at start', async () => {
    const h = await startHarness({
      forwardTo: `https://127.0.0.1:${(resetting.address() as net.AddressInfo).port}`,
      vidispine: { caFile: join(dir, 'cert.pem') },
    });
    const contexts = jest.spyOn(tlsModule, 'createSecureContext');
    try {
      const replies = [];
      for (let i = 0; i < 3; i++) {
        replies.push(await call(h.port, { path: '/API/whoami' }));
        replies.push(
          await call(h.port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
        );
      }
      expect(replies.map((r) => r.status)).toEqual(Array(6).fill(502));
      expect(h.observer.upstreamErrors).toEqual(Array(6).fill('reset'));
      expect(contexts).not.toHaveBeenCalled();
    } finally {
      contexts.mockRestore();
      await h.close();
    }
  });
});

describe('NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment', () => {
  // Node reads the variable from the real environment: the whole proxy as a process.
  it('changes nothing: a certificate the proxy cannot verify is refused all the same', async () => {
    const stranger = await (await createTestCa('a CA nobody trusts')).issue({ ips: ['127.0.0.1'] });
    const trusted = tls.createSecureContext({
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
    });
    const untrusted = tls.createSecureContext({ key: stranger.keyPem, cert: stranger.certPem });
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    // The first connection, the token request's (kept alive), shows the certificate the CA
    // file vouches for; every later one, those of forwarded requests, a stranger's.
    let connections = 0;
    const server = net.createServer((raw) => {
      const secureContext = connections++ === 0 ? trusted : untrusted;
      const socket = new tls.TLSSocket(raw, { isServer: true, secureContext });
      const plain = net.connect(Number(new URL(sim.url).port), '127.0.0.1');
      socket.on('error', () => plain.destroy());
      plain.on('error', () => socket.destroy());
      socket.pipe(plain).pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const proxy = ChildProxy.start(
      ['run'],
      aliceEnv(url, {
        VIDISPINE_CA_FILE: join(dir, 'cert.pem'),
        NODE_TLS_REJECT_UNAUTHORIZED: '0',
      }),
    );
    try {
      const listening = await proxy.waitForEvent('listening');
      await proxy.waitForEvent('token_minted');
      const port = (listening.listeners as { port: number }[])[0].port;
      const replies = [
        await call(port, { path: '/API/whoami' }),
        await call(port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
      ];
      expect(replies.map((r) => [r.status, r.text])).toEqual(
        Array(2).fill([502, 'the TLS handshake with Vidispine failed\n']),
      );
    } finally {
      proxy.kill();
      await proxy.exited;
      await new Promise((resolve) => server.close(resolve));
      await sim.close();
    }
  });
});
