import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
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

/**
 * Calls `changed(folder, file)` whenever something changes in a folder holding a secret file
 * of `config` that `touchesSecret`, with `file` the name of the secret file that changed, or
 * undefined when any of the folder's may have (`..data` swapped, or no name given): users
 * whose files share a folder are not sent their unchanged, refused secret again when another
 * one's file is written. the kubelet updates a Secret volume by swapping its `..data`
 * link with a rename in that folder, and a file written in place changes there too, so one
 * watch per folder sees both (a watch on the file itself would follow the link's old target).
 * A watch costs no pool thread (inotify on Linux), unlike a read, and reads nothing: what a
 * change is worth is decided by its caller. A folder that cannot be watched (gone, or the
 * platform's limit on watches reached) is not: mints then read the file on their own
 * schedule, as without a watch.
 */
export function watchSecretFolders(
  config: Pick<ProxyConfig, 'vidispine' | 'users'>,
  changed: (folder: string, file?: string) => void,
): SecretWatch {
  const folders = new Map<string, Set<string>>();
  for (const { path } of secretFiles(config)) {
    const names = folders.get(dirname(path)) ?? new Set<string>();
    folders.set(dirname(path), names.add(basename(path)));
  }
  const watchers: FSWatcher[] = [];
  for (const [folder, files] of folders) {
    try {
      const watcher = watch(folder, { persistent: false }, (_event, entry) => {
        if (!touchesSecret(entry, files)) return;
        changed(folder, entry !== null && files.has(entry) ? entry : undefined);
      });
      // An error (the folder removed, a watch lost) ends this watch only.
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // Not watched: see above.
    }
  }
  return {
    close() {
      for (const watcher of watchers) watcher.close();
    },
  };
}
