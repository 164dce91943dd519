/**
 * What a process holds open, read from /proc (Linux): mappings and descriptors whose target
 * lies under a path. Lets storage tests see that deleted files are really let go.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Lines of /proc/<pid>/maps that map a file under `prefix` (a deleted one shows "(deleted)"). */
export function mappingsUnder(prefix: string, pid: number | 'self' = 'self'): string[] {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((line) => line.includes(prefix));
}

/** Targets of the open descriptors of a process that lie under `prefix`. */
export function descriptorsUnder(prefix: string, pid: number | 'self' = 'self'): string[] {
  return openDescriptors(pid).filter((target) => target.startsWith(prefix));
}

/** Targets of every open descriptor of a process. */
export function openDescriptors(pid: number | 'self' = 'self'): string[] {
  const directory = `/proc/${pid}/fd`;
  const targets: string[] = [];
  for (const fd of fs.readdirSync(directory)) {
    try {
      targets.push(fs.readlinkSync(path.join(directory, fd)));
    } catch {
      // Closed between the listing and the readlink.
    }
  }
  return targets;
}
