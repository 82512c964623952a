/**
 * The folders of secret files are watched, so that a Secret updated by the kubelet (or a file
 * written again) is used at once by a mint backing off on the old secret.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromObject } from '../../src/config/load';
import { touchesSecret, watchSecretFolders } from '../../src/config/secret-watch';
import { tempFolder } from '../support/files';

const { path } = tempFolder('secret-watch');

/** A configuration whose one user's password is `file`. */
const configFor = (file: string) =>
  configFromObject(
    {
      vidispine: { url: 'http://vidispine:8080' },
      users: [{ name: 'alice', passwordFile: file, listen: '127.0.0.1:0' }],
    },
    {},
  );

/** The next folder (and file, if one) `watchSecretFolders` reports for `file`'s configuration. */
function nextChange(file: string, act: () => void): Promise<[string, string | undefined]> {
  return new Promise((resolve) => {
    const watch = watchSecretFolders(configFor(file), (folder, changed) => {
      watch.close();
      resolve([folder, changed]);
    });
    act();
  });
}

it("reports the kubelet's update of a Secret volume: a new folder, `..data` swapped by a rename", async () => {
  const mount = path('mount');
  mkdirSync(mount);
  mkdirSync(join(mount, '..2026_12_05_03_00_01.1'));
  writeFileSync(join(mount, '..2026_12_05_03_00_01.1', 'password'), 'old\n');
  symlinkSync('..2026_12_05_03_00_01.1', join(mount, '..data'));
  symlinkSync(join('..data', 'password'), join(mount, 'password'));
  const folder = await nextChange(join(mount, 'password'), () => {
    mkdirSync(join(mount, '..2026_12_05_03_00_02.2'));
    writeFileSync(join(mount, '..2026_12_05_03_00_02.2', 'password'), 'new\n');
    symlinkSync('..2026_12_05_03_00_02.2', join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
    rmSync(join(mount, '..2026_12_05_03_00_01.1'), { recursive: true });
  });
  // Any file of the volume may have changed with `..data`.
  expect(folder).toEqual([mount, undefined]);
});

it('reports a secret file written again in place', async () => {
  const folder = path('plain');
  mkdirSync(folder);
  writeFileSync(join(folder, 'password'), 'old\n');
  const changed = await nextChange(join(folder, 'password'), () =>
    writeFileSync(join(folder, 'password'), 'new\n'),
  );
  expect(changed).toEqual([folder, 'password']);
});

it('takes a change of the secret file or of `..data`, not of a file beside nor a Secret half written', () => {
  const files = new Set(['password']);
  expect(touchesSecret('password', files)).toBe(true);
  expect(touchesSecret('..data', files)).toBe(true);
  // The kubelet writes the new folder and links it as `..data_tmp` before the swap: a mint
  // then would still read the old secret, and be one more refused login.
  expect(touchesSecret('..data_tmp', files)).toBe(false);
  expect(touchesSecret('..2026_12_05_03_00_02.2', files)).toBe(false);
  expect(touchesSecret(null, files)).toBe(true);
  expect(touchesSecret('app.log', files)).toBe(false);
  expect(touchesSecret('password.swp', files)).toBe(false);
  expect(touchesSecret('.password', files)).toBe(false);
});

it('watches nothing and reports nothing for a folder that is not there', () => {
  const watch = watchSecretFolders(configFor(join(path('gone'), 'password')), () => {
    throw new Error('no change can be reported');
  });
  watch.close();
});
