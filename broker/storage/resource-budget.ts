/**
 * What bounds the number of partitions one broker holds. Segments keep no descriptors (they
 * are closed once mapped), so the bound is the kernel's limit on mappings per process,
 * vm.max_map_count: a partition's active segment maps up to 3 files (log, offset index, time
 * index) and each sealed segment as many again, so by default half of the mappings are shared
 * out at 3 per partition, leaving the rest for sealed segments, the heap and native modules.
 */
import fs from 'node:fs';

const mapCountFile = '/proc/sys/vm/max_map_count';
/** Linux's default, for systems where the file cannot be read. */
const mapCountDefault = 65_530;

export function maxMapCount(): number {
  try {
    const value = Number(fs.readFileSync(mapCountFile, 'utf8').trim());
    return Number.isSafeInteger(value) && value > 0 ? value : mapCountDefault;
  } catch {
    return mapCountDefault;
  }
}

/** The broker's partition budget when no --max-partitions is given, and where it comes from. */
export function defaultPartitionBudget(): { max: number; source: string } {
  const mappings = maxMapCount();
  return { max: Math.floor(mappings / 2 / 3), source: `a sixth of vm.max_map_count ${mappings}` };
}

/** Descriptors open in this process right now; undefined where /proc is not there. */
export function openDescriptors(): number | undefined {
  try {
    return fs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}
