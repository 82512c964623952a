/**
 * The certificate watch on its own: a pair the server refuses to take stays a candidate, so
 * the next check offers it again rather than taking it for the pair in use.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type LoadedCertificate,
  loadCertificate,
  watchCertificate,
} from '../../src/inject/certificate';
import { createTestCa } from '../support/certificates';
import { SERVING_NAMES } from '../support/inject';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vap-certificate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('offers a pair again after the server refused it', async () => {
  const ca = await createTestCa();
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  const write = (pair: { certPem: string; keyPem: string }): void => {
    writeFileSync(files.certFile, pair.certPem);
    writeFileSync(files.keyFile, pair.keyPem);
  };
  write(await ca.issue(SERVING_NAMES));
  const offered: LoadedCertificate[] = [];
  let refuse = true;
  const watch = watchCertificate(files, loadCertificate(files), {
    onLoad(loaded) {
      offered.push(loaded);
      if (refuse) throw new Error('refused');
    },
    onError: (err) => {
      throw err;
    },
    checkIntervalMs: 3_600_000,
  });
  try {
    write(await ca.issue(SERVING_NAMES));
    expect(() => watch.check()).toThrow('refused');
    refuse = false;
    watch.check();
    watch.check();
    expect(offered).toHaveLength(2);
    expect(offered[1]?.fingerprint256).toBe(offered[0]?.fingerprint256);
  } finally {
    watch.stop();
  }
});
