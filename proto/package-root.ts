import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding Sluice's package.json, found by walking up from `moduleUrl`. Code runs
 * both from source (vitest) and from dist/, so fixed relative paths would break in one of them.
 */
export function packageRoot(moduleUrl: string): string {
  let directory = path.dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (isSluicePackage(path.join(directory, 'package.json'))) return directory;
    const parent = path.dirname(directory);
    if (parent === directory) throw new Error(`cannot find the sluice package root above ${moduleUrl}`);
    directory = parent;
  }
}

function isSluicePackage(file: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown }).name === 'sluice';
  } catch {
    return false;
  }
}
