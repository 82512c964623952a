import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * A Secret volume as the kubelet's atomic writer lays it out at `mount`: its files, given by
 * path, in a timestamped folder linked as `..data`, and the entry `top` linked through it.
 */
export function kubeletVolume(mount: string, top: string) {
  let version = 0;
  let current = '';
  const write = (files: Record<string, string>) => {
    const folder = `..2026_12_05_03_00_${String(++version).padStart(2, '0')}.${version}`;
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(join(mount, folder, file, '..'), { recursive: true });
      writeFileSync(join(mount, folder, file), content);
    }
    return folder;
  };
  return {
    create(files: Record<string, string>) {
      mkdirSync(mount);
      current = write(files);
      symlinkSync(current, join(mount, '..data'));
      symlinkSync(join('..data', top), join(mount, top));
    },
    /** The kubelet's update: a new folder, linked as `..data_tmp`, swapped, the old removed. */
    update(files: Record<string, string>) {
      const old = current;
      current = write(files);
      symlinkSync(current, join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, old), { recursive: true });
    },
  };
}

/** The inotify watches a process holds (this one by default), as the kernel counts them. */
export function inotifyWatches(pid: number | 'self' = 'self'): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed since listed
    }
    count += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
  }
  return count;
}
