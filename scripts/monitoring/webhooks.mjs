// Injection webhooks for the monitoring check: the built CLI's `inject`, each with a serving
// pair of its own made by openssl, reviewing pods as the API server sends them.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { join } from 'node:path';
import { watchChild } from './listening.mjs';

/** A self-signed ECDSA P-256 pair for 127.0.0.1 valid `days`, as tls.crt / tls.key in `dir`. */
function makePair(dir, days) {
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(days),
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

/** A key that matches no certificate: what a renewal caught half written leaves behind. */
export function breakKey(keyFile) {
  const key = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
  writeFileSync(keyFile, key);
}

/**
 * Starts `dist/cli.js inject` in `dir` with a certificate valid `days`; resolves with its
 * ops port, `review(labelled)` (one pod CREATE), `untrusted()` (one TLS handshake from a
 * client that trusts another CA) and `stop()`.
 */
export async function startWebhook(root, dir, days) {
  const { certFile, keyFile } = makePair(dir, days);
  const child = spawn(process.execPath, [join(root, 'dist/cli.js'), 'inject'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      WEBHOOK_LISTEN: '127.0.0.1:0',
      WEBHOOK_CERT_FILE: certFile,
      WEBHOOK_KEY_FILE: keyFile,
      OPS_LISTEN: '127.0.0.1:0',
      SHUTDOWN_DELAY_SECONDS: '0',
      SIDECAR_IMAGE: 'registry.example.com/vidispine-auth-proxy:0.1.0',
      SIDECAR_VIDISPINE_URL: 'http://vidispine.media.svc:8080',
    },
  });
  const watched = watchChild(child, 'webhook');
  const listening = await watched.listening;
  const ports = { port: listening.webhook.port, opsPort: listening.ops.port };
  let uid = 0;
  const review = (labelled) =>
    new Promise((resolve, reject) => {
      uid += 1;
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: `00000000-0000-4000-8000-${String(uid).padStart(12, '0')}`,
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: 'media',
          operation: 'CREATE',
          userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
          object: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: `shop-${uid}`,
              labels: labelled ? { 'vidispine-auth-proxy/inject': 'true' } : { app: 'shop' },
              annotations: labelled
                ? {
                    'vidispine-auth-proxy/user': 'shop',
                    'vidispine-auth-proxy/secret': 'shop-vidispine',
                  }
                : {},
            },
            spec: { containers: [{ name: 'shop', image: 'registry.example.com/shop:2' }] },
          },
          dryRun: false,
        },
      });
      const req = https.request(
        {
          host: '127.0.0.1',
          port: ports.port,
          path: '/mutate?timeout=5s',
          method: 'POST',
          // The API server checks the caBundle; here the pair is self-signed and local.
          rejectUnauthorized: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`review: ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  // A caBundle gone stale: a client that trusts another CA, as OpenSSL's says it ("unknown ca").
  const otherCaDir = join(dir, 'other-ca');
  mkdirSync(otherCaDir, { recursive: true });
  const otherCa = makePair(otherCaDir, days).certFile;
  const untrusted = () =>
    new Promise((resolve) => {
      const client = execFile(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${ports.port}`,
          '-CAfile',
          otherCa,
          '-verify_return_error',
        ],
        () => resolve(),
      );
      client.stdin?.end();
    });
  return {
    opsPort: ports.opsPort,
    keyFile,
    review,
    untrusted,
    stop: watched.stop,
    stderr: watched.stderr,
  };
}
