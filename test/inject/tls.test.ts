/**
 * The webhook's TLS: 1.2 or newer only, and a certificate replaced on disk (as cert-manager
 * and the kubelet do it) served to new connections without a restart, while connections
 * already open keep working.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { createTestCa, type TestCa } from '../support/certificates';
import type { LogLine } from '../support/child-proxy';
import {
  podReview,
  type RunningWebhook,
  SERVING_NAMES,
  startWebhook,
  writeSecretVolume,
} from '../support/inject';
import { parseExposition, value } from '../support/prom-parse';

let webhook: RunningWebhook;
let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa();
  webhook = await startWebhook({}, { caPem: ca.certPem, pair: await ca.issue(SERVING_NAMES) });
});
afterAll(async () => {
  await webhook.stop();
});

/** A new TLS connection's negotiated protocol and the certificate the server presented. */
function handshake(
  options: ConnectionOptions,
): Promise<{ protocol: string | null; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: webhook.port, ...options }, () => {
      const cert = socket.getPeerX509Certificate();
      resolve({ protocol: socket.getProtocol(), fingerprint: cert?.fingerprint256 ?? '' });
      socket.end();
    });
    socket.on('error', reject);
  });
}

const REVIEW = podReview({
  metadata: {
    labels: { 'vidispine-auth-proxy/inject': 'true' },
    annotations: { 'vidispine-auth-proxy/user': 'u', 'vidispine-auth-proxy/secret': 's' },
  },
  spec: { containers: [{ name: 'app', image: 'app:1' }] },
});

describe('TLS versions', () => {
  it('speaks TLS 1.3 and 1.2', async () => {
    expect(await handshake({ ca: ca.certPem })).toMatchObject({ protocol: 'TLSv1.3' });
    expect(await handshake({ ca: ca.certPem, maxVersion: 'TLSv1.2' })).toMatchObject({
      protocol: 'TLSv1.2',
    });
  });

  it('refuses TLS 1.1 and 1.0 with a protocol-version alert', async () => {
    // SECLEVEL=0 lets this client offer the old versions at all; the server must say no.
    for (const version of ['TLSv1.1', 'TLSv1'] as const) {
      await expect(
        handshake({
          ca: ca.certPem,
          minVersion: version,
          maxVersion: version,
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
      ).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    }
  });
});

describe('TLS 1.2 cipher suites', () => {
  const tls12 = (ciphers: string) =>
    handshake({ ca: ca.certPem, maxVersion: 'TLSv1.2', ciphers: `${ciphers}@SECLEVEL=0` });

  it('agrees only on forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305)', async () => {
    for (const cipher of [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
    ]) {
      expect(await tls12(cipher)).toMatchObject({ protocol: 'TLSv1.2' });
    }
  });

  it('refuses CBC suites with SHA-1 or SHA-2 MACs, which Node offers by default', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384']) {
      // OpenSSL 3.0 (Node 20) names the alert SSLV3_…, later versions SSL/TLS_….
      await expect(tls12(cipher)).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_SSL_SSL(V3|\/TLS)_ALERT_HANDSHAKE_FAILURE$/),
      });
    }
  });
});

describe('certificate rotation under a running webhook', () => {
  it('serves the new pair to new connections, keeps the open ones, and survives a broken pair', async () => {
    const first = await handshake({ ca: ca.certPem });
    // A kept-alive connection opened before the rotation, as the API server holds one.
    expect((await webhook.review(REVIEW)).allowed).toBe(true);
    const pid = webhook.child.child.pid;

    // A pair whose key belongs to another certificate: reported, the old one stays in use.
    const a = await ca.issue(SERVING_NAMES);
    const b = await ca.issue(SERVING_NAMES);
    writeSecretVolume(webhook.dir, { certPem: a.certPem, keyPem: b.keyPem });
    const failed = await webhook.child.waitForEvent('certificate_reload_failed');
    expect(failed.error).toContain('does not match the certificate');
    expect(JSON.stringify(failed)).not.toContain('PRIVATE KEY');
    expect((await handshake({ ca: ca.certPem })).fingerprint).toBe(first.fingerprint);

    // A renewal caught half written: the new key and leaf, the CA certificate after it cut
    // off. Reported as well, and the pair in use still serves.
    const c = await ca.issue(SERVING_NAMES);
    writeSecretVolume(webhook.dir, {
      certPem: `${c.certPem}\n${ca.certPem.slice(0, 300)}`,
      keyPem: c.keyPem,
    });
    // Either outcome is awaited, so a failure shows at once rather than as a timeout.
    const halfWritten = await webhook.child.waitFor(
      (l) =>
        l.event === 'unhandled_error' ||
        (l.event === 'certificate_reload_failed' && l.error !== failed.error),
    );
    expect(halfWritten).toMatchObject({
      event: 'certificate_reload_failed',
      error: `${webhook.certFile}: the certificate chain does not load (bad end line)`,
    });
    expect((await handshake({ ca: ca.certPem })).fingerprint).toBe(first.fingerprint);

    // A FIFO in place of the key, which would block the process waiting for a writer: refused
    // unread, reported, and the pair in use still serves.
    writeSecretVolume(webhook.dir, { certPem: c.certPem });
    const fifo = await webhook.child.waitFor(
      (l) =>
        l.event === 'unhandled_error' ||
        (l.event === 'certificate_reload_failed' &&
          ![failed.error, halfWritten.error].includes(l.error)),
    );
    expect(fifo).toMatchObject({
      event: 'certificate_reload_failed',
      error: `${webhook.keyFile}: not a regular file (a FIFO, device or directory is never read)`,
    });
    expect((await handshake({ ca: ca.certPem })).fingerprint).toBe(first.fingerprint);

    // cert-manager renews with a new CA, as after a CA rotation: the new pair is served.
    const ca2 = await createTestCa('rotated CA');
    const next = await ca2.issue(SERVING_NAMES);
    writeSecretVolume(webhook.dir, next);
    const reloaded = await webhook.child.waitForEvent('certificate_reloaded');
    const expected = new X509Certificate(next.certPem).fingerprint256;
    expect(reloaded.fingerprint256).toBe(expected);
    expect((await handshake({ ca: ca2.certPem })).fingerprint).toBe(expected);
    await expect(handshake({ ca: ca.certPem })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });

    // The connection opened before goes on with the old certificate; same process throughout.
    expect((await webhook.review(REVIEW)).allowed).toBe(true);
    expect(webhook.child.child.pid).toBe(pid);
    expect(webhook.child.child.exitCode).toBeNull();
    const metrics = (await webhook.ops('/metrics')).body;
    expect(metrics).toMatch(
      /^vidispine_auth_proxy_webhook_certificate_reloads_total\{result="success"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^vidispine_auth_proxy_webhook_certificate_reloads_total\{result="failure"\} 3$/m,
    );
  });
});

describe('the reload_failing gauge under a running webhook', () => {
  it('is 0 at start, 1 while a pair on disk does not load, 0 once the files are good again', async () => {
    const own = await startWebhook({}, { caPem: ca.certPem, pair: await ca.issue(SERVING_NAMES) });
    try {
      const failing = async (): Promise<string | undefined> =>
        /^vidispine_auth_proxy_webhook_certificate_reload_failing (\S+)$/m.exec(
          (await own.ops('/metrics')).body,
        )?.[1];
      // The next line of `event` from now; an uncaught error ends the wait at once.
      const next = (event: string): Promise<LogLine> => {
        const before = own.child.lines.filter((l) => l.event === event).length;
        let seen = 0;
        return own.child.waitFor(
          (l) => l.event === 'unhandled_error' || (l.event === event && ++seen > before),
        );
      };
      const mismatched = async () => ({
        certPem: (await ca.issue(SERVING_NAMES)).certPem,
        keyPem: (await ca.issue(SERVING_NAMES)).keyPem,
      });
      const started = readFileSync(own.certFile, 'utf8');
      const startedKey = readFileSync(own.keyFile, 'utf8');
      expect(await failing()).toBe('0');

      writeSecretVolume(own.dir, await mismatched());
      expect(await next('certificate_reload_failed')).toMatchObject({
        event: 'certificate_reload_failed',
      });
      expect(await failing()).toBe('1');

      // The pair in use put back: nothing to load, and nothing failing any more.
      writeSecretVolume(own.dir, { certPem: started, keyPem: startedKey });
      expect(await next('certificate_restored')).toMatchObject({ event: 'certificate_restored' });
      expect(await failing()).toBe('0');

      writeSecretVolume(own.dir, await mismatched());
      expect(await next('certificate_reload_failed')).toMatchObject({
        event: 'certificate_reload_failed',
      });
      expect(await failing()).toBe('1');

      writeSecretVolume(own.dir, await ca.issue(SERVING_NAMES));
      expect(await next('certificate_reloaded')).toMatchObject({ event: 'certificate_reloaded' });
      expect(await failing()).toBe('0');
    } finally {
      await own.stop();
    }
  });
});

describe('clients that fail the handshake', () => {
  // A webhook of its own: the tests above fail handshakes on purpose.
  let fresh: RunningWebhook;
  let freshCa: TestCa;
  beforeAll(async () => {
    freshCa = await createTestCa();
    fresh = await startWebhook(
      {},
      { caPem: freshCa.certPem, pair: await freshCa.issue(SERVING_NAMES) },
    );
  });
  afterAll(async () => {
    await fresh.stop();
  });

  /** What `openssl s_client` does with a caBundle that is not the webhook's CA: an unknown-CA alert. */
  const staleCaBundle = (caFile: string): Promise<void> =>
    new Promise((resolve) => {
      const child = execFile(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${fresh.port}`,
          '-CAfile',
          caFile,
          '-verify_return_error',
        ],
        () => resolve(),
      );
      child.stdin?.end();
    });

  const failures = async (reason: string): Promise<number | undefined> =>
    value(
      parseExposition((await fresh.ops('/metrics')).body),
      'vidispine_auth_proxy_webhook_tls_handshake_failures_total',
      { reason },
    );

  it('are counted by reason, and said at warn once a minute per reason with the count', async () => {
    // A caBundle of another CA, and one of a CA renewed under the same name (a new key):
    // OpenSSL's client says "unknown ca" to the first and "decrypt error" to the second, whose
    // signature it cannot verify; Go's (the API server's) says "bad certificate" to both.
    const unknown = join(fresh.dir, 'unknown-ca.pem');
    writeFileSync(unknown, (await createTestCa('another CA')).certPem);
    const renewed = join(fresh.dir, 'renewed-ca.pem');
    writeFileSync(renewed, (await createTestCa()).certPem);
    await staleCaBundle(unknown);
    await staleCaBundle(unknown);
    await staleCaBundle(renewed);
    await expect(
      handshake({
        port: fresh.port,
        ca: freshCa.certPem,
        minVersion: 'TLSv1.1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }),
    ).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    // The failures are the webhook's to see once the clients are gone: awaited as its log line.
    await fresh.child.waitFor((l) => l.event === 'tls_handshake_failed' && l.reason === 'protocol');
    for (let tries = 0; (await failures('unknown_ca')) !== 2 && tries < 100; tries += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await failures('unknown_ca')).toBe(2);
    expect(await failures('protocol')).toBe(1);
    expect(await failures('bad_certificate')).toBe(1);

    const said = fresh.child.lines.filter((l: LogLine) => l.event === 'tls_handshake_failed');
    // The second unknown CA within the minute is counted, not said again.
    expect(said).toEqual([
      expect.objectContaining({ level: 'warn', reason: 'unknown_ca', failures: 1 }),
      expect.objectContaining({ level: 'warn', reason: 'bad_certificate', failures: 1 }),
      expect.objectContaining({ level: 'warn', reason: 'protocol', failures: 1 }),
    ]);
    expect(said[0]?.error).toContain('unknown ca');
    // Still answering those that trust it.
    expect((await fresh.review(REVIEW)).allowed).toBe(true);
  });
});
