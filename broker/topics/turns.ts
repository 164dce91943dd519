/**
 * Long file work (creating or deleting thousands of partitions) done in slices: `pause()`
 * gives the event loop back once the current slice has run `sliceMs`, so requests of other
 * clients are served between slices and no turn of the loop runs much longer than that.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export class Turns {
  readonly #sliceMs: number;
  #sliceStart = performance.now();

  constructor(sliceMs = 5) {
    this.#sliceMs = sliceMs;
  }

  async pause(): Promise<void> {
    if (performance.now() - this.#sliceStart < this.#sliceMs) return;
    await nextTurn();
    this.#sliceStart = performance.now();
  }
}
