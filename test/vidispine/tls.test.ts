import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tlsModule from 'node:tls';
import { createSimulator, type Simulator } from '../../src/simulator';
import { MintError } from '../../src/tokens/types';
import { createTokenMinter } from '../../src/vidispine/minter';
import { createTransport } from '../../src/vidispine/transport';
import { createTestCa } from '../support/certificates';
import { password, userConfig } from '../support/config-fixtures';
import { lookupWithoutTrailingDot } from '../support/net';

// A private CA's certificate in front of the simulator: https with and without vidispine.caFile.
const dir = mkdtempSync(join(tmpdir(), 'vap-tls-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');

let sim: Simulator;
let tls: https.Server;
let url: URL;

beforeAll(async () => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  sim = createSimulator({});
  await sim.listen(0, '127.0.0.1');
  const upstream = new URL(sim.url);
  tls = https.createServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile) },
    (req, res) => {
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    },
  );
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  url = new URL(`https://127.0.0.1:${(tls.address() as AddressInfo).port}`);
});

afterAll(async () => {
  tls.closeAllConnections();
  await new Promise((resolve) => tls.close(resolve));
  await sim.close();
});

const alice = userConfig('alice', { credential: password('alice', 'alice-password') });

/** One mint of alice's token through `transport`. */
const mint = (transport: ReturnType<typeof createTransport>) =>
  createTokenMinter({ vidispine: { mintTimeoutSeconds: 5 }, user: alice, transport }).mint();

it('refuses an unknown CA and says to set caFile', async () => {
  const transport = createTransport({ url });
  const err = await mint(transport).catch((e: unknown) => e);
  transport.close();
  expect(err).toBeInstanceOf(MintError);
  expect(err).toMatchObject({ reason: 'network' });
  expect((err as MintError).message).toMatch(
    /TLS with https:\/\/127\.0\.0\.1:\d+ failed \(\w+\).*vidispine\.caFile/,
  );
});

it('mints over https when the CA file is given', async () => {
  const transport = createTransport({ url, caFile: certFile });
  const token = await mint(transport);
  transport.close();
  expect(sim.tokenInfo(token.value)?.user).toBe('alice');
});

// A configuration built in code carries no CA bytes read at start: its file is read when the
// transport is made, and must hold certificates as a command's would (exit 2 there), rather
// than fail every mint as a chain the CA does not cover.
it.each([
  [
    'holds no PEM certificate',
    () => 'not a certificate\n',
    (file: string) => `${file} holds no PEM certificate (-----BEGIN CERTIFICATE----- …)`,
  ],
  [
    'has a certificate that does not parse after a good one',
    () => {
      const good = readFileSync(certFile, 'latin1');
      return good + good.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
    },
    (file: string) => `certificate 2 in ${file} cannot be parsed`,
  ],
])('refuses a CA file that %s when the transport is made', (_, text, problem) => {
  const file = join(dir, 'unusable-ca.pem');
  writeFileSync(file, text());
  let thrown: unknown;
  try {
    createTransport({ url, caFile: file }).close();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toEqual(new Error(`vidispine.caFile: ${problem(file)}`));
});

// Read synchronously when the transport is made: a FIFO would hold the thread until something
// wrote to it, and a device such as /dev/zero, never ending, would fill memory.
it.each([
  [
    'a FIFO',
    () => {
      const fifo = join(dir, 'ca.fifo');
      execFileSync('mkfifo', [fifo]);
      return fifo;
    },
  ],
  ['a device', () => '/dev/zero'],
  ['a folder', () => dir],
])('refuses a CA file that is %s unread when the transport is made', (_, file) => {
  const path = file();
  expect(() => createTransport({ url, caFile: path }).close()).toThrow(
    new Error(
      `vidispine.caFile: ${path} is not a regular file (a FIFO, device or directory is never read)`,
    ),
  );
});

// RFC 6066 §3: the name in SNI goes without the trailing dot of a fully qualified name; Java's
// TLS stack, VidiCore's, refuses one ("Illegal server name") and ends the handshake.
it('sends a fully qualified host name in SNI without its trailing dot', async () => {
  const ca = await createTestCa();
  const pair = await ca.issue({ dns: ['localhost'] });
  const caFile = join(dir, 'fqdn-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const names: (string | false | null)[] = [];
  const sockets = new Set<tlsModule.TLSSocket>();
  const server = tlsModule.createServer({ key: pair.keyPem, cert: pair.certPem }, (socket) => {
    sockets.add(socket);
    names.push(socket.servername);
    socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nalice');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const spy = lookupWithoutTrailingDot();
  const port = (server.address() as AddressInfo).port;
  const transport = createTransport({ url: new URL(`https://localhost.:${port}`), caFile });
  try {
    const answer = await transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
    expect(answer).toMatchObject({ status: 200, body: 'alice' });
    expect(names).toEqual(['localhost']);
  } finally {
    spy.mockRestore();
    transport.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

// A server that answers the ClientHello with an alert speaks TLS: it refused this handshake
// (no TLS version or cipher in common, a client certificate required, a name it does not
// serve). It was told as a port that does not speak TLS at all, to be set to http://.
it.each([
  [
    'handshake_failure',
    40,
    /^TLS with https:\/\/127\.0\.0\.1:\d+ failed \((sslv3|ssl\/tls) alert handshake failure, SSL alert number 40\): VidiCore refused the handshake; check the TLS versions and cipher suites it accepts and whether it asks for a client certificate \(openssl s_client -connect host:port\)$/,
  ],
  // unrecognized_name: what a server says of a name in SNI it serves nothing for.
  [
    'unrecognized_name',
    112,
    /^TLS with https:\/\/127\.0\.0\.1:\d+ failed \(tlsv1 unrecognized name, SSL alert number 112\): VidiCore serves no TLS for the host name in vidispine\.url, which it is sent as the server name \(SNI\); use there a name VidiCore is set up for/,
  ],
])('tells a TLS alert (%s) from a port that does not speak TLS', async (_, alert, told) => {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, alert])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const transport = createTransport({
    url: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`),
  });
  try {
    const err = await mint(transport).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'network' });
    expect((err as MintError).message).toMatch(told);
  } finally {
    transport.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
