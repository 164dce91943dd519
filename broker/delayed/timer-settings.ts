/** How much of the timer log is held in memory and how often that window moves: the broker's --delayed-delivery-* flags. */
export interface TimerSettings {
  /** Records due within this much of now are indexed in memory. */
  windowMs: number;
  /** How often the window moves on. */
  refillEveryMs: number;
}

/** One hour in memory, moved on every minute. */
export const timerSettingsDefault: TimerSettings = { windowMs: 3600 * 1000, refillEveryMs: 60 * 1000 };
