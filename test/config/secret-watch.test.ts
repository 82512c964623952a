/**
 * The folders of secret files are watched, so that a Secret updated by the kubelet (or a file
 * written again) is used at once by a mint backing off on the old secret.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromObject } from '../../src/config/load';
import {
  changesOf,
  touchesSecret,
  watchedFolderOf,
  watchSecretFolders,
} from '../../src/config/secret-watch';
import { tempFolder } from '../support/files';
import { inotifyWatches, kubeletVolume } from '../support/secret-volume';
import { until } from '../support/wait';

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

it('watches nothing, reports nothing and says so once for a folder that is not there', () => {
  const gone = path('gone');
  const unwatched: [string, string][] = [];
  const watch = watchSecretFolders(
    configFor(join(gone, 'password')),
    () => {
      throw new Error('no change can be reported');
    },
    (folder, reason) => unwatched.push([folder, reason]),
  );
  watch.close();
  expect(unwatched).toEqual([[gone, 'ENOENT']]);
});

/** Every change `watchSecretFolders` reports for `file`'s configuration, as it comes. */
function recordChanges(file: string) {
  const changes: [string, string | undefined][] = [];
  const unwatched: string[] = [];
  const watch = watchSecretFolders(
    configFor(file),
    (folder, changed) => changes.push([folder, changed]),
    (folder) => unwatched.push(folder),
  );
  /** Waits for one more change than seen so far, after `act`. */
  const next = async (act: () => void): Promise<[string, string | undefined]> => {
    const seen = changes.length;
    act();
    await until(() => changes.length > seen, 10_000, 'a reported change');
    return changes[changes.length - 1]!;
  };
  return { changes, unwatched, next, close: () => watch.close() };
}

/** alice's password in a plain folder of its own, `secrets/alice`, and the watch on it. */
function alicesFolderWatched(password = 'v0\n') {
  const parent = path('secrets');
  const folder = join(parent, 'alice');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'password'), password);
  return { parent, folder, watch: recordChanges(join(folder, 'password')) };
}

it('follows every update of a Secret volume whose secret file is in a subfolder of the mount', async () => {
  // passwordFile: <mount>/alice/password, the Secret's item `alice/password`: the kubelet
  // links `alice` to `..data/alice` and swaps `..data` at the root of the mount.
  const mount = path('users');
  const volume = kubeletVolume(mount, 'alice');
  volume.create({ 'alice/password': 'v0\n' });
  const watch = recordChanges(join(mount, 'alice', 'password'));
  let armed = 0;
  try {
    for (let i = 1; i <= 20; i++) {
      // Counted once the watches of the tests before are surely gone (ended in a callback).
      if (i === 2) armed = inotifyWatches();
      const [folder] = await watch.next(() => volume.update({ 'alice/password': `v${i}\n` }));
      expect(folder).toBe(join(mount, 'alice'));
    }
    // Any file of the volume may have changed with `..data`.
    expect(new Set(watch.changes.map(([, file]) => file))).toEqual(new Set([undefined]));
    // One watch all along: none lost, none added per update.
    expect(inotifyWatches()).toBe(armed);
    expect(watch.unwatched).toEqual([]);
  } finally {
    watch.close();
  }
  expect(inotifyWatches()).toBe(armed - 1);
});

it('watches a folder deleted and created again, and a folder replaced by a rename', async () => {
  const { parent, folder, watch } = alicesFolderWatched();
  /** Waits for the report that the folder's files may all be new: it is watched again. */
  const rewatched = (act: () => void) => {
    watch.changes.length = 0;
    act();
    return until(
      () => watch.changes.some(([f, file]) => f === folder && file === undefined),
      10_000,
      'the new folder reported',
    );
  };
  const writtenInPlace = (content: string) =>
    watch.next(() => writeFileSync(join(folder, 'password'), content));
  try {
    const armed = inotifyWatches();
    for (let i = 1; i <= 10; i++) {
      await watch.next(() => rmSync(folder, { recursive: true }));
      await rewatched(() => {
        mkdirSync(folder);
        writeFileSync(join(folder, 'password'), `v${i}\n`);
      });
      expect(await writtenInPlace(`w${i}\n`)).toEqual([folder, 'password']);
      mkdirSync(join(parent, 'next'));
      writeFileSync(join(parent, 'next', 'password'), `x${i}\n`);
      await rewatched(() => {
        rmSync(folder, { recursive: true });
        renameSync(join(parent, 'next'), folder);
      });
      expect(await writtenInPlace(`y${i}\n`)).toEqual([folder, 'password']);
    }
    expect(inotifyWatches()).toBe(armed);
    expect(watch.unwatched).toEqual([]);
  } finally {
    watch.close();
  }
});

it('watches a folder removed and created again in one go, under the inode number it had', async () => {
  // `rm -r alice && mkdir alice`: ext4 and xfs give the new folder the old one's inode
  // number, so by the time inotify's word of the removal is read the folder looks unchanged.
  const { folder, watch } = alicesFolderWatched();
  try {
    const armed = inotifyWatches();
    for (let i = 1; i <= 10; i++) {
      watch.changes.length = 0;
      rmSync(folder, { recursive: true });
      mkdirSync(folder);
      writeFileSync(join(folder, 'password'), `v${i}\n`);
      await until(
        () => watch.changes.some(([f, file]) => f === folder && file === undefined),
        10_000,
        'the new folder reported',
      );
      expect(await watch.next(() => writeFileSync(join(folder, 'password'), `w${i}\n`))).toEqual([
        folder,
        'password',
      ]);
    }
    expect(inotifyWatches()).toBe(armed);
    expect(watch.unwatched).toEqual([]);
  } finally {
    watch.close();
  }
});

it('waits on the folder above again when it too is removed and created again in one go', async () => {
  const { parent, folder, watch } = alicesFolderWatched();
  try {
    const armed = inotifyWatches();
    rmSync(folder, { recursive: true });
    // Waiting on the folder above for the folder to come back.
    await until(() => inotifyWatches() < armed, 10_000, 'the watch ended');
    await until(() => inotifyWatches() === armed, 10_000, 'the folder above watched');
    rmSync(parent, { recursive: true });
    mkdirSync(parent);
    // Its word of the removal read (the watch on it ended): it is watched again.
    await until(() => inotifyWatches() < armed, 10_000, 'the watch above ended');
    await until(() => inotifyWatches() === armed, 10_000, 'the new folder above watched');
    await watch.next(() => {
      mkdirSync(folder);
      writeFileSync(join(folder, 'password'), 'v1\n');
    });
    expect(await watch.next(() => writeFileSync(join(folder, 'password'), 'v2\n'))).toEqual([
      folder,
      'password',
    ]);
    expect(watch.unwatched).toEqual([]);
  } finally {
    watch.close();
  }
});

it('says once that a folder cannot be watched any more, and names no secret', async () => {
  const { parent, folder, watch } = alicesFolderWatched('hunter2\n');
  try {
    // The folder and the one holding it are gone: nothing left to watch for its return.
    rmSync(parent, { recursive: true });
    await until(() => watch.unwatched.length > 0, 10_000, 'the loss said');
    expect(watch.unwatched).toEqual([folder]);
  } finally {
    watch.close();
  }
});

it('watches the root of a kubelet volume, reached through its links into `..data`, else the folder', () => {
  const links = new Set(['/v/..data', '/v/alice', '/v/password', '/etc/..data']);
  const isLink = (p: string) => links.has(p);
  expect(watchedFolderOf('/v/alice/password', isLink)).toBe('/v');
  expect(watchedFolderOf('/v/alice/deeper/password', isLink)).toBe('/v');
  expect(watchedFolderOf('/v/password', isLink)).toBe('/v');
  // A plain folder below a folder that happens to hold `..data`: its own folder.
  expect(watchedFolderOf('/etc/vap/password', isLink)).toBe('/etc/vap');
  expect(watchedFolderOf('/password', isLink)).toBe('/');
});

it('reports a change of a watched entry for the secret files it may have changed', () => {
  const secrets = [
    { folder: '/v/alice', file: 'password', entry: 'alice' },
    { folder: '/v/bob', file: 'password', entry: 'bob' },
    { folder: '/v', file: 'admin', entry: 'admin' },
    { folder: '/v', file: 'runas', entry: 'runas' },
  ];
  expect(changesOf('..data', secrets)).toEqual([
    ['/v/alice', undefined],
    ['/v/bob', undefined],
    ['/v', undefined],
  ]);
  expect(changesOf(null, secrets)).toEqual(changesOf('..data', secrets));
  // A subfolder replaced: any file of it; a file: that one.
  expect(changesOf('alice', secrets)).toEqual([['/v/alice', undefined]]);
  expect(changesOf('admin', secrets)).toEqual([['/v', 'admin']]);
  expect(changesOf('..data_tmp', secrets)).toEqual([]);
  expect(changesOf('carol', secrets)).toEqual([]);
});

it('says so when the folder above goes too while it waits there for the folder to come back', async () => {
  const { parent, folder, watch } = alicesFolderWatched();
  try {
    const armed = inotifyWatches();
    rmSync(folder, { recursive: true });
    // The kernel ends the folder's watch at once; the one on the folder above replaces it.
    await until(() => inotifyWatches() < armed, 10_000, 'the watch ended');
    await until(() => inotifyWatches() === armed, 10_000, 'the folder above watched');
    rmSync(parent, { recursive: true });
    await until(() => watch.unwatched.length > 0, 10_000, 'the loss said');
    expect(watch.unwatched).toEqual([folder]);
  } finally {
    watch.close();
  }
});
