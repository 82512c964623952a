/**
 * `vidispine-auth-proxy inject` as a process: its configuration (environment or YAML, bad
 * keys named, exit 2), its listeners, and SIGTERM (readiness fails first, then exit 0).
 */
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa } from '../support/certificates';
import { ChildProxy } from '../support/child-proxy';
import { runCli } from '../support/cli';
import {
  IMAGE,
  podReview,
  SERVING_NAMES,
  startWebhook,
  webhookEnv,
  writeSecretVolume,
} from '../support/inject';

let dir: string;
let certFile: string;
let keyFile: string;
let otherKeyFile: string;
let halfChainFile: string;
let fifoVolume: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vap-inject-config-'));
  const ca = await createTestCa();
  const pair = await ca.issue(SERVING_NAMES);
  const other = await ca.issue(SERVING_NAMES);
  certFile = join(dir, 'tls.crt');
  keyFile = join(dir, 'tls.key');
  otherKeyFile = join(dir, 'other.key');
  writeFileSync(certFile, pair.certPem);
  writeFileSync(keyFile, pair.keyPem);
  writeFileSync(otherKeyFile, other.keyPem);
  // A renewal caught half written: the whole leaf, then the start of the CA certificate.
  halfChainFile = join(dir, 'half-chain.crt');
  writeFileSync(halfChainFile, `${pair.certPem}\n${ca.certPem.slice(0, 300)}`);
  // A Secret volume (files linked through ..data) whose key is a FIFO.
  fifoVolume = join(dir, 'fifo-volume');
  mkdirSync(fifoVolume);
  writeSecretVolume(fifoVolume, { certPem: pair.certPem });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (extra: Record<string, string | undefined>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  ...webhookEnv(certFile, keyFile, extra),
});

describe('configuration errors exit 2 naming the key', () => {
  it.each<[string, Record<string, string | undefined>, string[]]>([
    [
      'nothing set',
      { WEBHOOK_CERT_FILE: undefined, WEBHOOK_KEY_FILE: undefined, SIDECAR_IMAGE: undefined },
      ['WEBHOOK_CERT_FILE: required', 'WEBHOOK_KEY_FILE: required', 'SIDECAR_IMAGE: required'],
    ],
    [
      'bad values',
      {
        WEBHOOK_LISTEN: '8443',
        WEBHOOK_MAX_BODY_BYTES: 'lots',
        SIDECAR_IMAGE_PULL_POLICY: 'Sometimes',
        SIDECAR_VIDISPINE_URL: 'vidispine:8080',
        SIDECAR_MEMORY_LIMIT: '1 GB',
        SIDECAR_UID: '0',
        SIDECAR_IMAGE_PULL_SECRETS: 'regcred,Reg_Cred',
        LOG_LEVEL: 'loud',
      },
      [
        'WEBHOOK_LISTEN: 8443 is a port alone: write host:port',
        'WEBHOOK_MAX_BODY_BYTES: must be a positive integer',
        'SIDECAR_IMAGE_PULL_POLICY: must be Always, IfNotPresent or Never',
        'SIDECAR_VIDISPINE_URL:',
        'SIDECAR_MEMORY_LIMIT: must be a Kubernetes quantity',
        'SIDECAR_UID: must be a user ID from 1 to 2147483647, or empty for none',
        'SIDECAR_IMAGE_PULL_SECRETS: "Reg_Cred" must be a Secret name',
        'LOG_LEVEL: must be one of',
      ],
    ],
    // Every labelled pod would be refused by the API server or fail to pull.
    [
      'an image with a space',
      { SIDECAR_IMAGE: 'bad image' },
      [
        'SIDECAR_IMAGE: "bad image" is not an image reference ([registry[:port]/]path[:tag][@digest]): it contains a space or line break',
      ],
    ],
    [
      'an image as a URL',
      { SIDECAR_IMAGE: 'https://r/x:1' },
      [
        'SIDECAR_IMAGE: "https://r/x:1" is not an image reference ([registry[:port]/]path[:tag][@digest]): a reference has no scheme: write registry/path, without http:// or https://',
      ],
    ],
    [
      'an image with a digest that is none',
      { SIDECAR_IMAGE: 'r/x:1@sha256:zz' },
      [
        'SIDECAR_IMAGE: "r/x:1@sha256:zz" is not an image reference ([registry[:port]/]path[:tag][@digest]): the digest "sha256:zz" must be sha256: and 64 lower-case hex digits',
      ],
    ],
    [
      'a user ID that is not digits',
      { SIDECAR_UID: '-1' },
      ['SIDECAR_UID: must be a user ID from 1 to 2147483647, or empty for none'],
    ],
    [
      'a user ID that is not a number',
      { SIDECAR_UID: 'abc' },
      ['SIDECAR_UID: must be a user ID from 1 to 2147483647, or empty for none'],
    ],
    [
      'a body limit no request could be read within',
      { WEBHOOK_MAX_BODY_BYTES: '1000000000000' },
      [
        'WEBHOOK_MAX_BODY_BYTES: must be at most 536870888 (the longest text Node can make: a larger body could never be read as JSON)',
      ],
    ],
    [
      'an integer written with a fraction',
      { WEBHOOK_MAX_BODY_BYTES: '4194304.0' },
      ['WEBHOOK_MAX_BODY_BYTES: must be a positive integer'],
    ],
    [
      'a request above its limit, which every pod would be refused',
      { SIDECAR_CPU_REQUEST: '2', SIDECAR_MEMORY_LIMIT: '64Mi' },
      [
        'SIDECAR_CPU_REQUEST: 2 is above the cpu limit 500m',
        'SIDECAR_MEMORY_REQUEST: 96Mi is above the memory limit 64Mi',
      ],
    ],
    [
      'a request in exabytes, above the default limit',
      { SIDECAR_MEMORY_REQUEST: '1E' },
      ['SIDECAR_MEMORY_REQUEST: 1E is above the memory limit 192Mi'],
    ],
    [
      "a CA's key without the CA, which would be read from nowhere",
      { SIDECAR_VIDISPINE_CA_KEY: 'bundle.pem' },
      [
        'SIDECAR_VIDISPINE_CA_KEY: is set without SIDECAR_VIDISPINE_CA: set the ConfigMap or Secret holding the CA too, or remove it',
      ],
    ],
    [
      "a CA's key without the CA beside a bad value, each named in one start",
      { SIDECAR_VIDISPINE_CA_KEY: 'bundle.pem', SIDECAR_UID: '0' },
      [
        'SIDECAR_VIDISPINE_CA_KEY: is set without SIDECAR_VIDISPINE_CA',
        'SIDECAR_UID: must be a user ID from 1 to 2147483647',
      ],
    ],
    [
      "a CA's key without the CA beside a certificate that is not there, each named in one start",
      { SIDECAR_VIDISPINE_CA_KEY: 'bundle.pem', WEBHOOK_CERT_FILE: '/nonexistent/tls.crt' },
      [
        'SIDECAR_VIDISPINE_CA_KEY: is set without SIDECAR_VIDISPINE_CA',
        'WEBHOOK_CERT_FILE: /nonexistent/tls.crt: cannot read (ENOENT)',
      ],
    ],
    [
      'an admin credential without its Secret',
      { SIDECAR_ADMIN_USER: 'admin' },
      ['SIDECAR_ADMIN_SECRET: required'],
    ],
    [
      'a RunAs account without its Secret, with an access key ID Vidispine cannot have',
      { SIDECAR_RUNAS_USER: 'svc-runas', SIDECAR_RUNAS_ACCESS_KEY_ID: 'VSID 1:2' },
      [
        'SIDECAR_RUNAS_SECRET: required',
        "SIDECAR_RUNAS_ACCESS_KEY_ID: must be the key's ID as Vidispine shows it",
      ],
    ],
    [
      "accounts whose Secret Kubernetes or whose name the proxy would refuse (each pod's sidecar would exit 2)",
      {
        SIDECAR_ADMIN_USER: 'bad:name',
        SIDECAR_ADMIN_SECRET: 'Bad_Name',
        SIDECAR_ADMIN_SECRET_KEY: '..',
        SIDECAR_RUNAS_USER: 'svc-runas',
        SIDECAR_RUNAS_SECRET: 'vidispine-runas',
        SIDECAR_RUNAS_SECRET_KEY: '.',
      },
      [
        "SIDECAR_ADMIN_USER: must not contain ':'",
        'SIDECAR_ADMIN_SECRET: must be a Secret name',
        "SIDECAR_ADMIN_SECRET_KEY: must not be '.' or begin with '..'",
        "SIDECAR_RUNAS_SECRET_KEY: must not be '.' or begin with '..'",
      ],
    ],
    [
      'a certificate that is not there',
      { WEBHOOK_CERT_FILE: '/nonexistent/tls.crt' },
      ['WEBHOOK_CERT_FILE: /nonexistent/tls.crt: cannot read (ENOENT)'],
    ],
    [
      // Was found only when binding failed (exit 1), naming no key.
      "the ops listener on the webhook listener's default address",
      { WEBHOOK_LISTEN: undefined, OPS_LISTEN: '0.0.0.0:8443' },
      [
        "OPS_LISTEN: 0.0.0.0:8443 overlaps the webhook listener's default address, 0.0.0.0:8443 (WEBHOOK_LISTEN): choose another port, or set WEBHOOK_LISTEN",
      ],
    ],
    [
      "the webhook listener on every address, the ops listener's default port",
      { WEBHOOK_LISTEN: '[::]:9090', OPS_LISTEN: undefined },
      [
        "WEBHOOK_LISTEN: [::]:9090 overlaps the ops listener's default address, 0.0.0.0:9090 (OPS_LISTEN): choose another port, or set OPS_LISTEN",
      ],
    ],
    [
      'both listeners set to one address, beside a bad value',
      { WEBHOOK_LISTEN: '127.0.0.1:9443', OPS_LISTEN: '[::]:9443', SIDECAR_UID: '0' },
      [
        'OPS_LISTEN: address already used by WEBHOOK_LISTEN',
        'SIDECAR_UID: must be a user ID from 1 to 2147483647',
      ],
    ],
  ])('%s', async (_what, extra, messages) => {
    const r = await runCli(['inject'], { env: env(extra) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('configuration error');
    for (const m of messages) expect(r.stderr).toContain(m);
    expect(r.stdout).toBe('');
  });

  // Past 2^53 an integer is no longer exact; it is still an integer, only too large.
  it('an integer past 2^53 is named once, by its bound', async () => {
    const r = await runCli(['inject'], {
      env: env({ WEBHOOK_MAX_BODY_BYTES: '99999999999999999999' }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'WEBHOOK_MAX_BODY_BYTES: must be at most 536870888 (the longest text Node can make: a larger body could never be read as JSON)',
    );
    expect(r.stderr).not.toContain('must be a positive integer');
  });

  // One file for both settings, holding a certificate alone: the key setting is at fault.
  it('a certificate named as the key too: the key setting is named', async () => {
    const r = await runCli(['inject'], {
      env: env({ WEBHOOK_CERT_FILE: certFile, WEBHOOK_KEY_FILE: certFile }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`WEBHOOK_KEY_FILE: ${certFile}: not a PEM private key`);
    expect(r.stderr).not.toContain('WEBHOOK_CERT_FILE');
  });

  it('a misspelt ops variable: no clash with the default it leaves', async () => {
    const r = await runCli(['inject'], {
      env: env({ WEBHOOK_LISTEN: '[::]:9090', OPS_LISTEN: undefined, OPS_LISTN: '127.0.0.1:9091' }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OPS_LISTN: unknown variable; did you mean OPS_LISTEN?');
    expect(r.stderr).not.toContain('overlaps');
  });

  it('values and file paths quoted in part, as text', async () => {
    const UNSHOWN = /[\p{Cc}\p{Cf}]/u;
    const values = await runCli(['inject'], {
      env: env({
        SIDECAR_IMAGE_PULL_SECRETS: `ok,${'n'.repeat(100_000)}\u202e`,
        SIDECAR_CPU_REQUEST: `1.${'0'.repeat(100_000)}`,
      }),
    });
    expect(values.code).toBe(2);
    expect(values.stderr).toContain(
      `SIDECAR_IMAGE_PULL_SECRETS: "${'n'.repeat(200)}…" must be at most 253 characters`,
    );
    expect(values.stderr).toContain(
      `SIDECAR_CPU_REQUEST: 1.${'0'.repeat(198)}… is above the cpu limit 500m`,
    );
    expect(values.stderr.replace(/\n/g, '')).not.toMatch(UNSHOWN);
    expect(values.stderr.length).toBeLessThan(1000);
    const file = await runCli(['inject'], {
      env: env({ WEBHOOK_CERT_FILE: `/nonexistent/\x1b[2J${'c'.repeat(3000)}` }),
    });
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(
      `WEBHOOK_CERT_FILE: /nonexistent/?[2J${'c'.repeat(183)}…: cannot read (ENOENT)`,
    );
    expect(file.stderr.replace(/\n/g, '')).not.toMatch(UNSHOWN);
    expect(file.stderr.length).toBeLessThan(1000);
  });

  it('a key that does not belong to the certificate', async () => {
    const r = await runCli(['inject'], { env: env({ WEBHOOK_KEY_FILE: otherKeyFile }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `WEBHOOK_KEY_FILE: ${otherKeyFile}: does not match the certificate in ${certFile}`,
    );
    expect(r.stderr).not.toContain('PRIVATE KEY');
  });

  it('a key file that is a FIFO behind the links of a Secret volume: refused unread', async () => {
    const fifo = join(fifoVolume, 'tls.key');
    const r = await runCli(['inject'], {
      env: env({ WEBHOOK_CERT_FILE: join(fifoVolume, 'tls.crt'), WEBHOOK_KEY_FILE: fifo }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `WEBHOOK_KEY_FILE: ${fifo}: not a regular file (a FIFO, device or directory is never read)`,
    );
  });

  it('a certificate chain cut off after its first certificate', async () => {
    const r = await runCli(['inject'], { env: env({ WEBHOOK_CERT_FILE: halfChainFile }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `WEBHOOK_CERT_FILE: ${halfChainFile}: the certificate chain does not load (bad end line)`,
    );
    expect(r.stderr).not.toContain('PRIVATE KEY');
  });

  it.each<[string, string[], string]>([
    [
      'the environment',
      ['inject'],
      "SIDECAR_VIDISPINE_URL: must not contain credentials: put the password in a Secret, named per pod by the vidispine-auth-proxy/secret annotation or for the webhook's accounts by SIDECAR_ADMIN_SECRET or SIDECAR_RUNAS_SECRET",
    ],
    [
      'a YAML file',
      ['inject', '--config', 'url.yaml'],
      "sidecar.vidispineUrl: must not contain credentials: put the password in a Secret, named per pod by the vidispine-auth-proxy/secret annotation or for the webhook's accounts by sidecar.admin.secret or sidecar.runAs.secret",
    ],
  ])('a Vidispine URL with credentials, in %s', async (_where, args, message) => {
    const url = 'http://admin:hunter2@vidispine:8080';
    writeFileSync(
      join(dir, 'url.yaml'),
      [
        `webhook: { certFile: ${certFile}, keyFile: ${keyFile} }`,
        `sidecar: { image: ${IMAGE}, vidispineUrl: "${url}" }`,
      ].join('\n'),
    );
    const r = await runCli(
      args.map((a) => (a === 'url.yaml' ? join(dir, a) : a)),
      { env: args.length > 1 ? { PATH: process.env.PATH } : env({ SIDECAR_VIDISPINE_URL: url }) },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/hunter2|admin:|users\[0\]/);
  });

  it('a YAML file, keys named by their path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'webhook:',
        `  certFile: ${certFile}`,
        `  keyFile: ${keyFile}`,
        'sidecar:',
        '  imge: registry.example.com/vidispine-auth-proxy:0.1.0',
        '  resources: { requests: { cpu: fast } }',
        '  admin: { user: admin }',
        '  runAs: { user: "svc/runas", secret: vidispine-runas., key: "..data" }',
      ].join('\n'),
    );
    const r = await runCli(['inject', '--config', file], { env: { PATH: process.env.PATH } });
    expect(r.code).toBe(2);
    for (const m of [
      'sidecar.imge: unknown key',
      'sidecar.image: required',
      'sidecar.resources.requests.cpu: must be a Kubernetes quantity',
      'sidecar.admin.secret: required',
      "sidecar.runAs.user: must not contain ':'",
      'sidecar.runAs.secret: must be a Secret name',
      "sidecar.runAs.key: must not be '.' or begin with '..'",
    ])
      expect(r.stderr).toContain(m);
  });

  it('a YAML image with a trailing space', async () => {
    const file = join(dir, 'spaced-image.yaml');
    writeFileSync(
      file,
      [
        'webhook:',
        `  certFile: ${certFile}`,
        `  keyFile: ${keyFile}`,
        'sidecar:',
        '  image: "r/x:1 "',
      ].join('\n'),
    );
    const r = await runCli(['inject', '--config', file], { env: { PATH: process.env.PATH } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'sidecar.image: "r/x:1 " is not an image reference ([registry[:port]/]path[:tag][@digest]): it contains a space or line break',
    );
  });

  it('an unknown argument', async () => {
    const r = await runCli(['inject', '--listen', ':8443'], { env: env({}) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--listen');
  });
});

describe('running', () => {
  it('starts from a YAML file and lists inject in --help', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(
      file,
      [
        'webhook:',
        '  listen: 127.0.0.1:0',
        `  certFile: ${certFile}`,
        `  keyFile: ${keyFile}`,
        'ops: { listen: "127.0.0.1:0" }',
        'shutdown: { delaySeconds: 0 }',
        'sidecar:',
        '  image: registry.example.com/vidispine-auth-proxy:0.1.0',
        '  vidispineUrl: http://vidispine:8080',
        '  resources: { limits: { cpu: null } }',
        // A Secret's name that says `secret` or `token` is a name, logged as it is.
        '  imagePullSecrets: [pull-secret, mirror-token]',
        '  vidispineCa: secret/media-ca',
        '  uid: null',
        // The accounts' Secrets by name: names, logged as they are.
        '  admin: { user: svc-admin, secret: vidispine-admin }',
        '  runAs: { user: svc-runas, secret: vidispine-runas, key: runas-password }',
      ].join('\n'),
    );
    const child = ChildProxy.start(['inject', '--config', file], { PATH: process.env.PATH });
    try {
      const starting = await child.waitForEvent('starting');
      expect(starting).toMatchObject({
        config: {
          sidecar: {
            resources: { requests: { cpu: '25m', memory: '96Mi' }, limits: { memory: '192Mi' } },
            imagePullSecrets: ['pull-secret', 'mirror-token'],
            vidispineCa: { kind: 'secret', name: 'media-ca', key: 'ca.crt' },
            uid: null,
            admin: { user: 'svc-admin', secretName: 'vidispine-admin', key: 'password' },
            runAs: { user: 'svc-runas', secretName: 'vidispine-runas', key: 'runas-password' },
          },
        },
      });
      expect(JSON.stringify(starting)).not.toContain('"cpu":"500m"');
      await child.waitForEvent('listening');
    } finally {
      child.kill('SIGTERM');
      await child.exited;
    }
    const help = await runCli(['--help']);
    expect(help.stdout).toMatch(/^ {2}inject \[--config FILE\]/m);
  });

  it('exits 1 when its port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await runCli(['inject'], { env: env({ WEBHOOK_LISTEN: `127.0.0.1:${port}` }) });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `vidispine-auth-proxy: WEBHOOK_LISTEN: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE)\n`,
      );
    } finally {
      taken.close();
    }
  });

  it('on SIGTERM fails readiness at once, keeps answering reviews for the delay, then exits 0', async () => {
    const webhook = await startWebhook({ SHUTDOWN_DELAY_SECONDS: '30' });
    try {
      expect((await webhook.ops('/readyz')).status).toBe(200);
      webhook.child.kill('SIGTERM');
      await webhook.child.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
      const ready = await webhook.ops('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ ok: false, shuttingDown: true });
      const review = podReview(
        { metadata: {}, spec: { containers: [{ name: 'a', image: 'a' }] } },
        { operation: 'UPDATE' },
      );
      expect((await webhook.review(review)).allowed).toBe(true);
      // A second signal ends the delay at once (128 + 15).
      webhook.child.kill('SIGTERM');
      expect((await webhook.child.exited).code).toBe(143);
    } finally {
      await webhook.stop();
    }
  });

  it('from SIGTERM on, each review answered closes its connection, so the next one goes to another replica', async () => {
    const webhook = await startWebhook({ SHUTDOWN_DELAY_SECONDS: '30' });
    try {
      const review = JSON.stringify(
        podReview(
          { metadata: {}, spec: { containers: [{ name: 'a', image: 'a' }] } },
          { operation: 'UPDATE' },
        ),
      );
      expect((await webhook.post(review)).headers.connection).toBe('keep-alive');
      webhook.child.kill('SIGTERM');
      await webhook.child.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
      const answer = await webhook.post(review);
      expect(answer.status).toBe(200);
      expect(answer.headers.connection).toBe('close');
      const refused = await webhook.post(review, { path: '/other' });
      expect(refused.status).toBe(404);
      expect(refused.headers.connection).toBe('close');
    } finally {
      await webhook.stop();
    }
  });

  it('closes at once the connections with no review under way, those that never sent any too', async () => {
    const webhook = await startWebhook({ SHUTDOWN_DRAIN_SECONDS: '20' });
    try {
      // A kept-alive connection between reviews, and one that completed its handshake and
      // sent nothing since: neither has anything to wait for.
      const review = podReview(
        { metadata: {}, spec: { containers: [{ name: 'a', image: 'a' }] } },
        { operation: 'UPDATE' },
      );
      expect((await webhook.review(review)).allowed).toBe(true);
      const silent = connect({ host: '127.0.0.1', port: webhook.port, ca: webhook.caPem });
      silent.on('error', () => undefined);
      await once(silent, 'secureConnect');
      const closed = once(silent, 'close');
      // And one still before its handshake: a TCP connection that has sent no byte.
      const mute = createConnection({ host: '127.0.0.1', port: webhook.port });
      mute.on('error', () => undefined);
      await once(mute, 'connect');
      const muteClosed = once(mute, 'close');
      webhook.child.kill('SIGTERM');
      const drained = await webhook.child.waitFor(
        (l) => l.event === 'shutdown' && (l.step === 'drained' || l.step === 'drain_timeout'),
      );
      expect(drained.step).toBe('drained');
      await closed;
      await muteClosed;
      expect(await webhook.child.exited).toEqual({ code: 0, signal: null });
    } finally {
      await webhook.stop();
    }
  });

  it('drains and exits 0 after the delay', async () => {
    const webhook = await startWebhook({ SHUTDOWN_DELAY_SECONDS: '0' });
    webhook.child.kill('SIGTERM');
    await webhook.child.waitFor((l) => l.event === 'shutdown' && l.step === 'exit');
    expect(await webhook.child.exited).toEqual({ code: 0, signal: null });
    await webhook.stop();
  });
});
