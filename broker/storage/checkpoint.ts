/**
 * Small durable text files a log keeps beside its segments (log start offset, recovery point),
 * and the clean-shutdown marker. Each checkpoint is written to `<name>.tmp`, synced, and renamed
 * over the old one, so a crash leaves either the old value or the new one, never a torn file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';

export const cleanShutdownFile = '.clean-shutdown';
export const logStartOffsetFile = 'log-start-offset';
export const recoveryPointFile = 'recovery-point';

export function writeOffsetCheckpoint(directory: string, name: string, offset: number): void {
  const target = path.join(directory, name);
  const temporary = `${target}.tmp`;
  try {
    const fd = fs.openSync(temporary, 'w', 0o644);
    try {
      fs.writeSync(fd, `0\n${offset}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, target);
  } catch (cause) {
    throw new SluiceError('SLUICE_ERR_STORAGE', `cannot write checkpoint ${target}`, { cause });
  }
}

/** The stored offset, or undefined when the file is missing or unreadable (then it is rebuilt). */
export function readOffsetCheckpoint(directory: string, name: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(directory, name), 'utf8');
  } catch {
    return undefined;
  }
  const [version, value] = text.split('\n');
  const offset = Number(value);
  return version === '0' && Number.isSafeInteger(offset) && offset >= 0 ? offset : undefined;
}

/** Removes the marker and reports whether it was there: the previous stop was clean. */
export function consumeCleanShutdownMarker(directory: string): boolean {
  const marker = path.join(directory, cleanShutdownFile);
  if (!fs.existsSync(marker)) return false;
  fs.rmSync(marker);
  return true;
}

export function writeCleanShutdownMarker(directory: string): void {
  fs.writeFileSync(path.join(directory, cleanShutdownFile), '');
}

/** Makes a directory's entries (created or removed files) durable. */
export function syncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
