/**
 * `inject`'s start says everything wrong at once, against the real CLI: the keys that do not
 * validate and the serving pair that does not load, each named by its key; a pair file whose
 * volume does not answer, beside bad keys, is named by its key and path rather than held
 * back until a signal.
 */
import { ChildProxy } from '../support/child-proxy';
import { tempFolder } from '../support/files';
import { testTls, webhookEnv } from '../support/inject';
import { mkfifo, stuckVolumeEnv, within } from '../support/stuck-files';

const children: ChildProxy[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill()));

async function ended(env: NodeJS.ProcessEnv): Promise<ChildProxy> {
  const proxy = ChildProxy.start(['inject'], env);
  children.push(proxy);
  await within(proxy.exited, 20_000);
  return proxy;
}

it('a certificate that is not there, beside a bad key: both named, exit 2', async () => {
  const { pair } = await testTls();
  const folder = tempFolder('inject-problems');
  const missing = folder.path('tls.crt');
  const proxy = await ended(
    webhookEnv(missing, folder.file(pair.keyPem), { SIDECAR_IMAGE: undefined }),
  );
  expect(await proxy.exited).toEqual({ code: 2, signal: null });
  expect(proxy.stderr).toBe(
    'vidispine-auth-proxy: configuration error\n' +
      '  SIDECAR_IMAGE: required\n' +
      `  WEBHOOK_CERT_FILE: ${missing}: cannot read (ENOENT)\n`,
  );
  expect(proxy.stderr).not.toContain('PRIVATE KEY');
}, 30_000);

it('a key that does not match, in a YAML file with a bad key: both named, exit 2', async () => {
  const { pair } = await testTls();
  const other = await testTls();
  const folder = tempFolder('inject-problems-yaml');
  const certFile = folder.file(pair.certPem);
  const keyFile = folder.file(other.pair.keyPem);
  const config = folder.file(
    JSON.stringify({
      webhook: { listen: '127.0.0.1:0', certFile, keyFile, maxBodyBytes: -1 },
      sidecar: { image: 'registry.example.com/vidispine-auth-proxy:0.1.0' },
    }),
  );
  const proxy = await ended({ CONFIG_FILE: config });
  expect(await proxy.exited).toEqual({ code: 2, signal: null });
  expect(proxy.stderr).toBe(
    'vidispine-auth-proxy: configuration error\n' +
      '  webhook.maxBodyBytes: must be a positive integer\n' +
      `  webhook.keyFile: ${keyFile}: does not match the certificate in ${certFile}\n`,
  );
}, 30_000);

// WEBHOOK_KEY_FILE mapped from the Secret's key itself, rather than mounted: the first 200
// characters of the value were quoted as its path, a whole EC private key.
it('a key put where its path goes is not shown: exit 2', async () => {
  const { pair } = await testTls();
  const folder = tempFolder('inject-key-pasted');
  const proxy = await ended(
    webhookEnv(folder.file(pair.certPem), pair.keyPem, { SIDECAR_IMAGE: undefined }),
  );
  expect(await proxy.exited).toEqual({ code: 2, signal: null });
  expect(proxy.stderr).toBe(
    'vidispine-auth-proxy: configuration error\n' +
      '  SIDECAR_IMAGE: required\n' +
      '  WEBHOOK_KEY_FILE: the file named (not shown: the value does not look like a file path; is it the key itself?): cannot read (ENOENT)\n',
  );
  for (const line of pair.keyPem.split('\n').slice(1, -2)) {
    expect(proxy.stderr).not.toContain(line.slice(0, 16));
  }
}, 30_000);

describe('a serving pair whose volume hangs, beside a bad key', () => {
  const stuckPair = async (): Promise<{ certFile: string; keyFile: string }> => {
    const { pair } = await testTls();
    const folder = tempFolder('inject-stuck-beside');
    return { certFile: mkfifo(folder.path('tls.crt')), keyFile: folder.file(pair.keyPem) };
  };

  it('says the bad key, names the stuck file by its key and path, and ends', async () => {
    const { certFile, keyFile } = await stuckPair();
    const proxy = await ended(
      webhookEnv(certFile, keyFile, { SIDECAR_IMAGE: undefined, ...stuckVolumeEnv(certFile) }),
    );
    expect(await proxy.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(proxy.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n' +
        '  SIDECAR_IMAGE: required\n' +
        `vidispine-auth-proxy: WEBHOOK_CERT_FILE: file ${certFile} was not read within 1 s: is its volume stuck?\n` +
        "vidispine-auth-proxy: a file's read is stuck in its volume and Node.js would wait for it before exiting: ending by SIGTERM instead of exit 2\n",
    );
    expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
  }, 30_000);

  // The bad key was known before the signal came: ending without it left the operator to
  // find it on the next start.
  it('told to stop by SIGINT before that second, says the bad key and ends by it', async () => {
    const { certFile, keyFile } = await stuckPair();
    const proxy = ChildProxy.start(
      ['inject'],
      webhookEnv(certFile, keyFile, { SIDECAR_IMAGE: undefined, ...stuckVolumeEnv(certFile) }),
    );
    children.push(proxy);
    await proxy.waitForEvent('test_volume_stuck');
    proxy.kill('SIGINT');
    expect(await within(proxy.exited, 10_000)).toEqual({ code: null, signal: 'SIGINT' });
    expect(proxy.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n' + '  SIDECAR_IMAGE: required\n',
    );
  }, 30_000);
});
