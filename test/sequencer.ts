/**
 * Orders test files for a run on few cores: process-spawning files (test/e2e, test/faults) before
 * unit files, each group larger files first. Vitest's own order puts larger files first only when
 * it has no timings, as on a clean CI clone, and a minute-long cluster test that happens to be a
 * small file then starts last and runs alone at the end; the unit files, seconds each, fill the
 * tail instead. Timings from an earlier run on this machine still take precedence.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const spawning = /[\\/]test[\\/](e2e|faults)[\\/]/;

export default class SpawningFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter((file) => spawning.test(file.moduleId)), ...sorted.filter((file) => !spawning.test(file.moduleId))];
  }
}
