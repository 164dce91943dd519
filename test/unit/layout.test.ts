/**
 * The folder rule of DESIGN.md, checked on every import so it holds by itself:
 * `cli/` → `bench/`, `broker/`, `client/` → `proto/`. The broker never imports the client
 * library, the client never imports the broker, the bench or the command, and `proto/` (the
 * wire contract both sides share) imports none of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** Folders each top-level folder may import from, besides itself and packages. */
const allowed: Record<string, string[]> = {
  proto: [],
  broker: ['proto'],
  client: ['proto'],
  bench: ['proto', 'client', 'broker'],
  cli: ['proto', 'client', 'broker', 'bench'],
};

function sourceFiles(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g)) found.push(match[1]!);
  return found;
}

function topFolder(file: string): string {
  return path.relative(root, file).split(path.sep)[0]!;
}

describe('folder layout', () => {
  it('finds every kind of import it checks', () => {
    const source = `import a from './a.js';\nexport { b } from '../b.js';\nconst c = await import('../../c.js');\nimport './d.js';\nimport x from 'pino';`;
    expect(importSpecifiers(source)).toEqual(['./a.js', '../b.js', '../../c.js', './d.js']);
  });

  it('keeps imports flowing cli → bench, broker, client → proto', () => {
    const violations: string[] = [];
    let checked = 0;
    for (const [folder, others] of Object.entries(allowed)) {
      for (const file of sourceFiles(path.join(root, folder))) {
        for (const specifier of importSpecifiers(fs.readFileSync(file, 'utf8'))) {
          checked += 1;
          const target = topFolder(path.resolve(path.dirname(file), specifier));
          if (target !== folder && !others.includes(target)) violations.push(`${path.relative(root, file)} imports ${specifier} (${folder}/ may not import ${target}/)`);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(violations).toEqual([]);
  });
});
