/**
 * The real `inject` command as a child process with a generated CA, and a client that sends
 * it AdmissionReviews over HTTPS the way the API server does (POST application/json on a
 * kept-alive TLS connection, trusting only the caBundle).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPatch, type Operation } from 'fast-json-patch';
import { ChildProxy } from './child-proxy';
import { createTestCa, type ServingPair } from './certificates';

export const IMAGE = 'registry.example.com/vidispine-auth-proxy:0.1.0';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface RunningWebhook {
  readonly child: ChildProxy;
  /** The CA the client trusts (the API server's caBundle). */
  readonly caPem: string;
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly port: number;
  readonly opsPort: number;
  /** Keeps connections alive, as the API server does. */
  readonly agent: Agent;
  post(
    body: string | Buffer,
    options?: { path?: string; method?: string; type?: string },
  ): Promise<HttpAnswer>;
  review(review: unknown): Promise<ReviewAnswer>;
  ops(path: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export interface ReviewAnswer {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patch?: Operation[];
  readonly status?: { code: number; message: string };
  /** `response.warnings`: what kubectl prints after `Warning: `. */
  readonly warnings?: string[];
  readonly raw: Record<string, unknown>;
}

/** Environment of a webhook with defaults a test may override (undefined removes one). */
export function webhookEnv(
  certFile: string,
  keyFile: string,
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    WEBHOOK_LISTEN: '127.0.0.1:0',
    WEBHOOK_CERT_FILE: certFile,
    WEBHOOK_KEY_FILE: keyFile,
    OPS_LISTEN: '127.0.0.1:0',
    SHUTDOWN_DELAY_SECONDS: '0',
    SIDECAR_IMAGE: IMAGE,
    SIDECAR_VIDISPINE_URL: 'http://vidispine.media.svc:8080',
    ...extra,
  };
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

/** The names the serving certificate is issued for: how the tests reach the webhook. */
export const SERVING_NAMES = { dns: ['localhost'], ips: ['127.0.0.1'] };

let generation = 0;

/**
 * Writes a pair the way the kubelet updates a Secret volume (and so a cert-manager
 * rotation reaches a pod): the files are symlinks through `..data`, which is swapped to a
 * new timestamped folder by one atomic rename.
 */
export function writeSecretVolume(dir: string, pair: ServingPair | { certPem: string }): void {
  generation += 1;
  const version = `..${process.pid}_${generation}`;
  mkdirSync(join(dir, version));
  writeFileSync(join(dir, version, 'tls.crt'), pair.certPem);
  // Without a key, a FIFO in its place: reading it would wait for a writer for ever.
  if ('keyPem' in pair) writeFileSync(join(dir, version, 'tls.key'), pair.keyPem);
  else execFileSync('mkfifo', [join(dir, version, 'tls.key')]);
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const file of ['tls.crt', 'tls.key']) {
    if (!existsSync(join(dir, file))) symlinkSync(join('..data', file), join(dir, file));
  }
}

/** The serving pair a webhook starts with and how a client checks it. */
export interface WebhookTls {
  readonly caPem: string;
  readonly pair: ServingPair;
  /** The name the client expects in the certificate (default: 127.0.0.1). */
  readonly servername?: string;
}

/** A pair for 127.0.0.1 from a new CA. */
export async function testTls(): Promise<WebhookTls> {
  const ca = await createTestCa();
  return { caPem: ca.certPem, pair: await ca.issue(SERVING_NAMES) };
}

export async function startWebhook(
  extraEnv: Record<string, string | undefined> = {},
  tls?: WebhookTls,
): Promise<RunningWebhook> {
  const dir = mkdtempSync(join(tmpdir(), 'vap-inject-'));
  const { caPem, pair, servername } = tls ?? (await testTls());
  writeSecretVolume(dir, pair);
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const child = ChildProxy.start(['inject'], webhookEnv(certFile, keyFile, extraEnv));
  const listening = await child.waitForEvent('listening');
  const port = (listening.webhook as { port: number }).port;
  const opsPort = (listening.ops as { port: number }).port;
  const agent = new Agent({ keepAlive: true, ca: caPem, maxSockets: 64 });

  const post: RunningWebhook['post'] = (body, options = {}) =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: options.path ?? '/mutate?timeout=10s',
          method: options.method ?? 'POST',
          agent,
          ...(servername ? { servername } : {}),
          headers: {
            'content-type': options.type ?? 'application/json',
            accept: 'application/json, */*',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
          );
          res.on('error', reject);
        },
      );
      // A refused large body may be cut once the answer is in: the answer is what counts.
      req.on('error', reject);
      req.end(body);
    });

  return {
    child,
    caPem,
    dir,
    certFile,
    keyFile,
    port,
    opsPort,
    agent,
    post,
    async review(review) {
      const answer = await post(JSON.stringify(review));
      if (answer.status !== 200)
        throw new Error(`review answered ${answer.status}: ${answer.body}`);
      const parsed = JSON.parse(answer.body) as Record<string, unknown>;
      const response = parsed.response as Record<string, unknown>;
      const patch =
        typeof response.patch === 'string'
          ? (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[])
          : undefined;
      return {
        uid: String(response.uid),
        allowed: response.allowed === true,
        ...(patch ? { patch } : {}),
        ...(response.status
          ? { status: response.status as { code: number; message: string } }
          : {}),
        ...(response.warnings !== undefined ? { warnings: response.warnings as string[] } : {}),
        raw: parsed,
      };
    },
    async ops(path) {
      const res = await fetch(`http://127.0.0.1:${opsPort}${path}`);
      return { status: res.status, body: await res.text() };
    },
    async stop() {
      agent.destroy();
      child.kill('SIGTERM');
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let uid = 0;

/** An AdmissionReview for a pod CREATE, as the API server sends it. */
export function podReview(
  pod: Record<string, unknown>,
  options: { dryRun?: boolean; operation?: string; namespace?: string } = {},
): Record<string, unknown> {
  uid += 1;
  const namespace = options.namespace ?? 'media';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(uid).padStart(12, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: '',
      namespace,
      operation: options.operation ?? 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: 'u-1',
        groups: ['system:serviceaccounts'],
      },
      object: { apiVersion: 'v1', kind: 'Pod', ...pod },
      oldObject: null,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** The pod after the review's patch, applied by fast-json-patch with validation. */
export function patched<T extends Record<string, unknown>>(pod: T, answer: ReviewAnswer): T {
  const doc = structuredClone({ apiVersion: 'v1', kind: 'Pod', ...pod });
  return applyPatch(doc, answer.patch ?? [], true, false).newDocument as T;
}
