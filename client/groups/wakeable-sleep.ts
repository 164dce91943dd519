/**
 * The wait between a group member's heartbeats (or join retries): it ends after its time, or at
 * once when woken — by a leave, a close, or news that the member must join again.
 */
export class WakeableSleep {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
