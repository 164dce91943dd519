/**
 * A record handed out by a share consumer: the record itself, how many times it has been
 * delivered (1 the first time), until when this member holds it, and what to do with it.
 * Each outcome resolves once the coordinator has stored it; `ack()` resolving means the
 * record is never delivered again. One final outcome per delivery: a second ack(), release()
 * or reject() of the same record is refused with SLUICE_ERR_INVALID_RECORD_STATE.
 */
import { SluiceError } from '../../proto/errors.js';
import { ShareAckType, type ShareAckTypeValue } from '../../proto/messages.js';
import type { DecodedRecord, RecordHeader } from '../../proto/record-batch/record-batch.js';

/** What a record asks of the consumer that handed it out. */
export interface RecordOwner {
  acknowledge(record: ShareRecord, membership: number, type: ShareAckTypeValue, delayMs: number, reason: string): Promise<void>;
  /** The lock a renew gives (the consumer's lockMs, or what the coordinator last granted). */
  readonly lockDurationMs: number;
}

export class ShareRecord implements DecodedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
  /** 1 on the first delivery; the coordinator counts every acquisition, across restarts. */
  readonly deliveryCount: number;
  /** When this member's lock ends (epoch ms, counted from when the fetch was sent, so never late). */
  lockExpiresAt: number;
  readonly #owner: RecordOwner;
  readonly #membership: number;
  #finished = false;

  constructor(decoded: DecodedRecord, deliveryCount: number, lockExpiresAt: number, membership: number, owner: RecordOwner) {
    this.topic = decoded.topic;
    this.partition = decoded.partition;
    this.offset = decoded.offset;
    this.timestamp = decoded.timestamp;
    this.key = decoded.key;
    this.value = decoded.value;
    this.headers = decoded.headers;
    this.deliveryCount = deliveryCount;
    this.lockExpiresAt = lockExpiresAt;
    this.#membership = membership;
    this.#owner = owner;
  }

  /** Done: the record is never delivered again. */
  ack(): Promise<void> {
    return this.#finish(ShareAckType.ACCEPT, 0, '');
  }

  /**
   * A failed attempt: the record is delivered again, after `delayMs` (or the group's
   * share.retry.backoff.ms for this attempt), or dead-lettered as delivery_limit when this was
   * the last attempt share.delivery.limit allows.
   */
  release(options: { delayMs?: number } = {}): Promise<void> {
    return this.#finish(ShareAckType.RELEASE, Math.max(0, Math.round(options.delayMs ?? 0)), '');
  }

  /** Poison: dead-lettered at once with x-death-reason=rejected and `reason` as x-death-message. */
  reject(reason = ''): Promise<void> {
    return this.#finish(ShareAckType.REJECT, 0, reason);
  }

  /** Extends this member's lock by the lock duration; the delivery count stays. */
  async renew(): Promise<void> {
    if (this.#finished) throw new SluiceError('SLUICE_ERR_INVALID_RECORD_STATE', `${this.#label()} was already acknowledged; there is no lock to renew`);
    const sentAt = Date.now();
    await this.#owner.acknowledge(this, this.#membership, ShareAckType.RENEW, 0, '');
    this.lockExpiresAt = Math.max(this.lockExpiresAt, sentAt + this.#owner.lockDurationMs);
  }

  #finish(type: ShareAckTypeValue, delayMs: number, reason: string): Promise<void> {
    if (this.#finished) {
      const refused = Promise.reject(new SluiceError('SLUICE_ERR_INVALID_RECORD_STATE', `${this.#label()} was already acknowledged, released or rejected`));
      refused.catch(() => {});
      return refused;
    }
    this.#finished = true;
    return this.#owner.acknowledge(this, this.#membership, type, delayMs, reason);
  }

  #label(): string {
    return `${this.topic}/${this.partition} offset ${this.offset}`;
  }
}
