import { lstatSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { errorCode } from '../error-message';
import { secretFiles } from './secret-files';
import type { ProxyConfig } from './types';

/** Watches on the folders of secret files; `close` ends them. */
export interface SecretWatch {
  close(): void;
}

/**
 * The link the kubelet's atomic writer swaps, by a rename, once a Secret, ConfigMap or
 * projected volume's new files are all written (in a new `..2026_12_05_…` folder, linked as
 * `..data_tmp` first): the one change of an update that shows its new files.
 */
const ATOMIC_WRITER_LINK = '..data';

/**
 * Whether a change of `entry` in a secret file's folder may have changed one of its secret
 * files, named `files`: the file itself (written again, replaced), or the kubelet's `..data`
 * swapped. The steps before that swap, and any other entry changing (a log written beside the
 * file), show no new secret: a mint then would read the old one, one more refused login in
 * Vidispine's log. No name given (some platforms): maybe.
 */
export function touchesSecret(entry: string | null, files: ReadonlySet<string>): boolean {
  return entry === null || entry === ATOMIC_WRITER_LINK || files.has(entry);
}

/** A secret file as seen from the folder watched for it. */
export interface WatchedSecret {
  /** The secret file's own folder: what `changed` names. */
  readonly folder: string;
  /** Its name in `folder`. */
  readonly file: string;
  /** The entry of the watched folder it is reached through: `file`, or a subfolder. */
  readonly entry: string;
}

/**
 * The folder to watch for the secret file `path`: the nearest folder above it that holds the
 * kubelet's `..data` link and reaches the file through one of its links into `..data` (the
 * root of the volume, where updates are swapped, even when the file is in a subfolder of it,
 * `users/alice/password` from the item `alice/password`); else the file's own folder. A
 * watch on the subfolder would follow `alice` to the old `..2026_…/alice`, removed after the
 * swap, and hear nothing more. `isLink` tells whether a path is a symbolic link.
 */
export function watchedFolderOf(path: string, isLink: (path: string) => boolean): string {
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    const entry = relative(folder, path).split(sep)[0] ?? '';
    if (isLink(join(folder, ATOMIC_WRITER_LINK)) && isLink(join(folder, entry))) return folder;
    if (dirname(folder) === folder) return dirname(path);
  }
}

/**
 * What a change of `entry` in a watched folder may have changed, as `[folder, file]` pairs
 * (`file` undefined: any of the folder's): `..data` swapped (or no name given), every secret
 * file below; a secret file itself, that one; a subfolder it is in replaced, all of that
 * folder's.
 */
export function changesOf(
  entry: string | null,
  secrets: readonly WatchedSecret[],
): [string, string | undefined][] {
  const entries = new Set(secrets.map((s) => s.entry));
  if (!touchesSecret(entry, entries)) return [];
  const whole = entry === null || entry === ATOMIC_WRITER_LINK;
  const changes = new Map<string, string | undefined>();
  for (const s of secrets) {
    if (!whole && entry !== s.entry) continue;
    const file = whole || s.entry !== s.file ? undefined : s.file;
    // Two files of one folder: any of its files.
    changes.set(
      s.folder,
      changes.has(s.folder) && changes.get(s.folder) !== file ? undefined : file,
    );
  }
  return [...changes];
}

const isLink = (path: string): boolean => {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
};

/**
 * Calls `changed(folder, file)` whenever something changes in a folder holding a secret file
 * of `config` that `touchesSecret`, with `file` the name of the secret file that changed, or
 * undefined when any of the folder's may have (`..data` swapped, the folder replaced, or no
 * name given): users whose files share a folder are not sent their unchanged, refused secret
 * again when another one's file is written. The kubelet updates a Secret volume by swapping
 * its `..data` link with a rename at the root of the volume, and a file written in place
 * changes in its folder, so one watch per folder (`watchedFolderOf`) sees both (a watch on the
 * file itself would follow the link's old target).
 *
 * A folder removed or renamed over is watched again once a folder is there under its name
 * (watching the folder above meanwhile), and reported as changed. A watch costs no pool thread
 * (inotify on Linux), unlike a read, and reads nothing: what a change is worth is decided by
 * its caller. A folder that cannot be watched (gone with the folder above it, or the
 * platform's limit on watches reached) is said once to `unwatched`, with the error's code:
 * mints then read the file on their own schedule, as without a watch.
 */
export function watchSecretFolders(
  config: Pick<ProxyConfig, 'vidispine' | 'users'>,
  changed: (folder: string, file?: string) => void,
  unwatched: (folder: string, reason: string) => void = () => undefined,
): SecretWatch {
  const folders = new Map<string, WatchedSecret[]>();
  for (const { path } of secretFiles(config)) {
    const watched = watchedFolderOf(path, isLink);
    const secret = {
      folder: dirname(path),
      file: basename(path),
      entry: relative(watched, path).split(sep)[0] ?? basename(path),
    };
    folders.set(watched, [...(folders.get(watched) ?? []), secret]);
  }
  const said = new Set<string>();
  const lost = (folder: string, error: unknown): void => {
    if (said.has(folder)) return;
    said.add(folder);
    unwatched(folder, errorCode(error) ?? 'error');
  };
  const follows = [...folders].map(([folder, secrets]) =>
    followFolder(folder, secrets, changed, (error) => lost(folder, error)),
  );
  return {
    close() {
      for (const follow of follows) follow.close();
    },
  };
}

/**
 * One watched folder, watched again when it is replaced: inotify names the folder itself in
 * the events of its removal, rename or unmount (`rename`, as the creation or removal of an
 * entry under the folder's own name), after which its watch hears nothing more. Such an event
 * is taken as the end of the watch, whatever is under the folder's name when it is read: a
 * folder removed and created again in one go (`rm -r`, `mkdir`) often has the old one's
 * inode number on ext4 and xfs, so a new folder cannot be told from the old one by its
 * `stat`. Watching a live folder again costs a watch call and one report.
 */
function followFolder(
  folder: string,
  secrets: readonly WatchedSecret[],
  changed: (folder: string, file?: string) => void,
  lost: (error: unknown) => void,
): SecretWatch {
  const name = basename(folder);
  let closed = false;
  let watcher: FSWatcher | undefined;
  /** The watch for the folder's return, on the folder above, while it is gone. */
  let waiting: FSWatcher | undefined;
  const report = (entry: string | null): void => {
    for (const [changedFolder, file] of changesOf(entry, secrets)) changed(changedFolder, file);
  };
  const arm = (): unknown => {
    try {
      const next = watch(folder, { persistent: false }, (event, entry) => {
        if (closed || next !== watcher) return;
        if (event === 'rename' && entry === name) return replaced();
        report(entry);
      });
      // An error (a watch lost) ends this watch: the folder is watched again if it is there.
      next.on('error', () => {
        if (next === watcher) replaced();
      });
      watcher = next;
      return undefined;
    } catch (error) {
      return error;
    }
  };
  const rewatched = (): boolean => {
    if (arm() !== undefined) return false;
    waiting?.close();
    waiting = undefined;
    report(null);
    return true;
  };
  const replaced = (): void => {
    watcher?.close();
    watcher = undefined;
    if (closed || rewatched()) return;
    const above = dirname(folder);
    try {
      const giveUp = (error: unknown): void => {
        next.close();
        waiting = undefined;
        lost(error);
      };
      const next = watch(above, { persistent: false }, (event, entry) => {
        if (closed || next !== waiting) return;
        if (entry === name) rewatched();
        // The folder above removed (or created again): wait on it again, else say so.
        else if (event === 'rename' && entry === basename(above)) {
          next.close();
          waiting = undefined;
          replaced();
        }
      });
      next.on('error', giveUp);
      waiting = next;
    } catch (error) {
      lost(error);
      return;
    }
    // Created again between the failed watch and the watch on the folder above.
    rewatched();
  };
  const error = arm();
  if (error !== undefined) lost(error);
  return {
    close() {
      closed = true;
      watcher?.close();
      waiting?.close();
    },
  };
}
