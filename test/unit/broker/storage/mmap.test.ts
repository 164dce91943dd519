import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { advise, allocate, mapFile, mappingStats, PAGE_SIZE, populate, releaseMapping, syncRange, syncRangeAsync } from '../../../../broker/storage/mmap.js';
import { mappingsUnder } from '../../../helpers/proc.js';

let directory: string;
let file: string;
beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-mmap-'));
  file = path.join(directory, 'data');
});
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

function openSized(size: number): number {
  const fd = fs.openSync(file, 'w+');
  allocate(fd, 0, size);
  return fd;
}

describe('mmap addon', () => {
  it('writes through a shared mapping that read() sees, and syncs it', async () => {
    const fd = openSized(2 * PAGE_SIZE);
    const mapping = mapFile(fd, 2 * PAGE_SIZE, { writable: true });
    mapping.write('hello, mapping', PAGE_SIZE - 5);
    syncRange(mapping, PAGE_SIZE - 5, 14);
    await syncRangeAsync(mapping, 0, mapping.length);
    expect(fs.readFileSync(file).subarray(PAGE_SIZE - 5, PAGE_SIZE + 9).toString()).toBe('hello, mapping');
    fs.closeSync(fd);
  });

  it('maps read-only', () => {
    fs.writeFileSync(file, Buffer.alloc(PAGE_SIZE, 7));
    const fd = fs.openSync(file, 'r');
    const mapping = mapFile(fd, PAGE_SIZE, { writable: false });
    expect(mapping[PAGE_SIZE - 1]).toBe(7);
    fs.closeSync(fd);
  });

  it('prefaults without changing bytes, and takes advice', async () => {
    const fd = openSized(8 * PAGE_SIZE);
    const mapping = mapFile(fd, 8 * PAGE_SIZE, { writable: true });
    mapping.fill(3, 0, 100);
    await populate(mapping, 0, mapping.length);
    advise(mapping, 0, mapping.length, 'sequential');
    advise(mapping, 10, 100, 'willneed');
    expect(mapping.subarray(0, 100).every((byte) => byte === 3)).toBe(true);
    expect(mapping.subarray(100).every((byte) => byte === 0)).toBe(true);
    fs.closeSync(fd);
  });

  it('allocate grows the file to the requested size', () => {
    const fd = openSized(12345);
    expect(fs.fstatSync(fd).size).toBe(12345);
    fs.closeSync(fd);
  });

  it('rejects bad arguments as programmer errors', () => {
    const fd = openSized(PAGE_SIZE);
    const mapping = mapFile(fd, PAGE_SIZE, { writable: true });
    expect(() => mapFile(fd, 0, { writable: true })).toThrow(RangeError);
    expect(() => mapFile(fd, PAGE_SIZE, { writable: true, offset: 100 })).toThrow(RangeError);
    expect(() => syncRange(mapping, PAGE_SIZE, 1)).toThrow(RangeError);
    expect(() => syncRange(Buffer.alloc(10) as unknown as Buffer, -1, 1)).toThrow(RangeError);
    expect(() => advise('x' as unknown as Buffer, 0, 1, 'normal')).toThrow(TypeError);
    fs.closeSync(fd);
  });

  it('turns failed system calls into storage errors', () => {
    for (const call of [() => mapFile(-1, PAGE_SIZE, { writable: true }), () => allocate(-1, 0, 10)]) {
      try {
        call();
        expect.unreachable();
      } catch (error) {
        expect(SluiceError.is(error)).toBe(true);
        expect(error).toMatchObject({ code: 'SLUICE_ERR_STORAGE', cause: { code: 'EBADF' } });
      }
    }
  });

  it('keeps a slice readable after the fd is closed and the file unlinked', () => {
    const fd = openSized(PAGE_SIZE);
    const slice = mapFile(fd, PAGE_SIZE, { writable: true }).subarray(10, 20);
    slice.write('0123456789');
    fs.closeSync(fd);
    fs.rmSync(file);
    expect(slice.toString()).toBe('0123456789');
  });

  it('unmaps when the last Buffer over a mapping is collected', () => {
    const addon = path.resolve('build/Release/sluice_mmap.node');
    const script = `
      import { createRequire } from 'node:module';
      import fs from 'node:fs';
      const addon = createRequire(import.meta.url)(${JSON.stringify(addon)});
      const fd = fs.openSync(${JSON.stringify(file)}, 'w+');
      addon.allocate(fd, 0, 1 << 20);
      const before = addon.stats().mappings;
      let held = [];
      for (let i = 0; i < 50; i += 1) held.push(addon.map(fd, 1 << 20, 0, true).subarray(5));
      held[7][0] = 42;
      // The Buffers map() returned are gone; their subarrays keep every mapping alive.
      for (let round = 0; round < 3; round += 1) {
        globalThis.gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const during = addon.stats().mappings;
      const readable = held[7][0];
      held = null;
      for (let round = 0; round < 20 && addon.stats().mappings > before; round += 1) {
        globalThis.gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      console.log(JSON.stringify({ before, during, readable, after: addon.stats().mappings }));`;
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).toBe(0);
    const counts = JSON.parse(child.stdout) as { before: number; during: number; readable: number; after: number };
    expect(counts.during - counts.before).toBe(50);
    expect(counts.readable).toBe(42);
    expect(counts.after).toBe(counts.before);
  });

  it('leaves a mapping out of the memory V8 counts toward collecting garbage', () => {
    const addon = path.resolve('build/Release/sluice_mmap.node');
    // 1 GiB of address space over a one-page file (nothing past the file is touched).
    const script = `
      import { createRequire } from 'node:module';
      import fs from 'node:fs';
      const addon = createRequire(import.meta.url)(${JSON.stringify(addon)});
      const fd = fs.openSync(${JSON.stringify(file)}, 'w+');
      addon.allocate(fd, 0, 4096);
      const before = process.memoryUsage().external;
      const mapping = addon.map(fd, 1 << 30, 0, true);
      console.log(JSON.stringify({ grew: process.memoryUsage().external - before, length: mapping.length }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).toBe(0);
    const result = JSON.parse(child.stdout) as { grew: number; length: number };
    expect(result.length).toBe(2 ** 30);
    expect(result.grew).toBeLessThan(1 << 20);
  });

  it('releases a mapping at once: the file is no longer mapped, and slices read zeros', () => {
    const fd = openSized(4 * PAGE_SIZE);
    const mapping = mapFile(fd, 4 * PAGE_SIZE, { writable: true });
    mapping.fill(7);
    const slice = mapping.subarray(PAGE_SIZE + 3, 3 * PAGE_SIZE);
    fs.closeSync(fd);
    fs.rmSync(file);
    expect(mappingsUnder(file)).not.toHaveLength(0);
    releaseMapping(mapping, true);
    expect(mappingsUnder(file)).toHaveLength(0);
    expect(slice.every((byte) => byte === 0)).toBe(true);
    // A late write lands in throwaway memory instead of faulting.
    slice[0] = 1;
    expect(slice[0]).toBe(1);
  });

  it('releases only whole mappings it made, never a slice of one', () => {
    const fd = openSized(2 * PAGE_SIZE);
    const mapping = mapFile(fd, 2 * PAGE_SIZE, { writable: false });
    expect(() => releaseMapping(mapping.subarray(PAGE_SIZE), false)).toThrow(TypeError);
    expect(() => releaseMapping(Buffer.alloc(PAGE_SIZE), false)).toThrow(TypeError);
    releaseMapping(mapping, false);
    expect(mapping.every((byte) => byte === 0)).toBe(true);
    fs.closeSync(fd);
  });

  it('counts live mappings', () => {
    expect(mappingStats().mappings).toBeGreaterThanOrEqual(0);
  });
});
