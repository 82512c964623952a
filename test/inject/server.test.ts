/**
 * The review listener's connections, with its timeouts made short: a client that completes
 * the TLS handshake and never sends a request is closed once it has been silent for the idle
 * timeout (Node's header and request timeouts never start for it), while a connection kept
 * alive between reviews stays for the keep-alive timeout.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { loadInjectorConfig } from '../../src/config/injector';
import { loadCertificate } from '../../src/inject/certificate';
import { WebhookMetrics } from '../../src/inject/metrics';
import { createWebhookServer, type WebhookServer } from '../../src/inject/server';
import { createLogger } from '../../src/ops/logger';
import { IMAGE, testTls } from '../support/inject';

let server: WebhookServer;
let caPem: string;
let port: number;
beforeAll(async () => {
  const tls = await testTls();
  caPem = tls.caPem;
  const dir = mkdtempSync(join(tmpdir(), 'vap-webhook-server-'));
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  writeFileSync(files.certFile, tls.pair.certPem);
  writeFileSync(files.keyFile, tls.pair.keyPem);
  const certificate = loadCertificate(files);
  rmSync(dir, { recursive: true, force: true });
  const config = loadInjectorConfig({
    env: {
      WEBHOOK_CERT_FILE: files.certFile,
      WEBHOOK_KEY_FILE: files.keyFile,
      SIDECAR_IMAGE: IMAGE,
    },
  });
  server = createWebhookServer({
    defaults: config.sidecar,
    certificate,
    maxBodyBytes: config.webhook.maxBodyBytes,
    metrics: new WebhookMetrics(),
    logger: createLogger({ level: 'silent' }),
    timeouts: { keepAliveMs: 60_000, headersMs: 10_000, requestMs: 30_000, idleMs: 300 },
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  port = server.address()?.port ?? 0;
});
afterAll(async () => {
  server.destroy();
  await server.close();
});

async function handshake(): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, ca: caPem });
  await once(socket, 'secureConnect');
  return socket;
}

it('closes a connection that never sends a request once it has been idle that long', async () => {
  const silent = await handshake();
  await once(silent, 'close');
});

it('keeps a connection alive between reviews past the idle timeout', async () => {
  const agent = new Agent({ keepAlive: true, ca: caPem });
  try {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/livez', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket as TLSSocket));
      });
      req.on('error', reject);
      req.end();
    });
    // A connection that never sent a request, opened after it, closes first.
    const silent = await handshake();
    let keptOpen = false;
    await once(silent, 'close').then(() => (keptOpen = !socket.destroyed));
    expect(keptOpen).toBe(true);
  } finally {
    agent.destroy();
  }
});
