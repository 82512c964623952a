/**
 * The certificate watch on its own: a pair the server refuses to take is reported like a pair
 * that does not load (never thrown out of the watch's timer) and stays a candidate, so the
 * next check offers it again rather than taking it for the pair in use.
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

/** What `setSecureContext` throws when OpenSSL refuses: an Error carrying OpenSSL's reason. */
function openSslError(reason: string): Error {
  return Object.assign(new Error(`error:0A00018F:SSL routines::${reason}`), {
    reason,
    code: 'ERR_SSL_EE_KEY_TOO_SMALL',
  });
}

async function servingFiles(): Promise<{
  files: { certFile: string; keyFile: string };
  writeNew: () => Promise<void>;
}> {
  const ca = await createTestCa();
  const sub = mkdtempSync(join(dir, 'pair-'));
  const files = { certFile: join(sub, 'tls.crt'), keyFile: join(sub, 'tls.key') };
  const writeNew = async (): Promise<void> => {
    const pair = await ca.issue(SERVING_NAMES);
    writeFileSync(files.certFile, pair.certPem);
    writeFileSync(files.keyFile, pair.keyPem);
  };
  await writeNew();
  return { files, writeNew };
}

it('offers a pair again after the server refused it, reporting the refusal once and throwing nothing', async () => {
  const { files, writeNew } = await servingFiles();
  const offered: LoadedCertificate[] = [];
  const errors: string[] = [];
  let refuse = true;
  const watch = watchCertificate(files, loadCertificate(files), {
    onLoad(loaded) {
      offered.push(loaded);
      if (refuse) throw openSslError('ee key too small');
    },
    onError: (err) => errors.push(err.message),
    onRestored: () => errors.push('restored'),
    checkIntervalMs: 3_600_000,
  });
  try {
    await writeNew();
    expect(() => watch.check()).not.toThrow();
    watch.check();
    expect(errors).toEqual([
      `${files.certFile}: the server did not take the pair (ee key too small)`,
    ]);
    refuse = false;
    watch.check();
    watch.check();
    expect(offered).toHaveLength(3);
    expect(offered[2]?.fingerprint256).toBe(offered[0]?.fingerprint256);
    expect(errors).toHaveLength(1);
  } finally {
    watch.stop();
  }
});

it('names an unexpected refusal by its kind, never by a message that could quote the pair', async () => {
  const { files, writeNew } = await servingFiles();
  const errors: string[] = [];
  const watch = watchCertificate(files, loadCertificate(files), {
    onLoad() {
      throw new TypeError('-----BEGIN PRIVATE KEY----- quoted');
    },
    onError: (err) => errors.push(err.message),
    checkIntervalMs: 3_600_000,
  });
  try {
    await writeNew();
    watch.check();
    expect(errors).toEqual([`${files.certFile}: the server did not take the pair (TypeError)`]);
  } finally {
    watch.stop();
  }
});

describe('a refusal on the periodic check', () => {
  afterEach(() => jest.useRealTimers());

  it('is reported through onError, not thrown out of the timer', async () => {
    const { files, writeNew } = await servingFiles();
    const current = loadCertificate(files);
    await writeNew();
    jest.useFakeTimers();
    const errors: string[] = [];
    const watch = watchCertificate(files, current, {
      onLoad() {
        throw openSslError('ee key too small');
      },
      onError: (err) => errors.push(err.message),
      checkIntervalMs: 1_000,
    });
    try {
      expect(() => jest.advanceTimersByTime(3_000)).not.toThrow();
      expect(errors).toEqual([
        `${files.certFile}: the server did not take the pair (ee key too small)`,
      ]);
    } finally {
      watch.stop();
    }
  });
});
