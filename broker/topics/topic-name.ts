import { SluiceError } from '../../proto/errors.js';

const legalName = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Kafka's topic-name rule. Names become directory names, so this is also what keeps a
 * request from reaching outside the data directory (`../x` has a slash and is refused).
 */
export function checkTopicName(name: unknown): string {
  if (typeof name !== 'string' || !legalName.test(name) || name === '.' || name === '..') {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 300)) : String(name);
    throw new SluiceError('SLUICE_ERR_INVALID_TOPIC', `invalid topic name ${shown}`);
  }
  return name;
}

/** Topic names the broker keeps for itself (`__consumer_offsets`, and any it adds later). */
export const internalTopicPrefix = '__';

export function isInternalTopic(name: string): boolean {
  return name.startsWith(internalTopicPrefix);
}

/**
 * Refuses a reserved name in a user's request (create, auto-create, delete): a user-made
 * `__consumer_offsets` would carry user defaults (cleanup.policy=delete) and break every commit.
 */
export function checkNotInternal(name: string, what: string): void {
  if (isInternalTopic(name)) {
    throw new SluiceError('SLUICE_ERR_INVALID_TOPIC', `cannot ${what} topic ${JSON.stringify(name)}: names starting with "${internalTopicPrefix}" are reserved for the broker's internal topics`);
  }
}
