/**
 * The in-memory index of held records due within the loaded window: a binary min-heap of
 * (due time, timer log offset) in two Float64Arrays, 16 bytes an entry (32 at most right after
 * the arrays double). Ordered by due time, then offset, so records due at the same
 * millisecond fire in produce order. Everything else about a record stays in the timer log.
 */
const initialCapacity = 1024;

export class TimerIndex {
  #due = new Float64Array(initialCapacity);
  #offset = new Float64Array(initialCapacity);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Bytes the arrays take now. */
  get bytes(): number {
    return this.#due.byteLength + this.#offset.byteLength;
  }

  /** The earliest due time, or Infinity when empty. */
  peekDue(): number {
    return this.#size === 0 ? Infinity : this.#due[0]!;
  }

  push(due: number, offset: number): void {
    if (this.#size === this.#due.length) this.#grow();
    let index = this.#size;
    this.#size += 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(due, offset, parent)) break;
      this.#due[index] = this.#due[parent]!;
      this.#offset[index] = this.#offset[parent]!;
      index = parent;
    }
    this.#due[index] = due;
    this.#offset[index] = offset;
  }

  /** Removes the earliest entry and returns its offset (the caller read its due time with peekDue). */
  pop(): number {
    if (this.#size === 0) throw new Error('pop from an empty timer index');
    const top = this.#offset[0]!;
    this.#size -= 1;
    const due = this.#due[this.#size]!;
    const offset = this.#offset[this.#size]!;
    let index = 0;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= this.#size) break;
      if (child + 1 < this.#size && this.#earlier(child + 1, child)) child += 1;
      if (this.#before(due, offset, child)) break;
      this.#due[index] = this.#due[child]!;
      this.#offset[index] = this.#offset[child]!;
      index = child;
    }
    this.#due[index] = due;
    this.#offset[index] = offset;
    if (this.#size < this.#due.length / 4 && this.#due.length > initialCapacity) this.#shrink();
    return top;
  }

  /** The lowest offset held (O(n): called once per checkpoint, not per record); Infinity when empty. */
  minOffset(): number {
    let min = Infinity;
    for (let index = 0; index < this.#size; index += 1) if (this.#offset[index]! < min) min = this.#offset[index]!;
    return min;
  }

  #before(due: number, offset: number, index: number): boolean {
    const other = this.#due[index]!;
    return due < other || (due === other && offset < this.#offset[index]!);
  }

  #earlier(a: number, b: number): boolean {
    return this.#before(this.#due[a]!, this.#offset[a]!, b);
  }

  #grow(): void {
    this.#resize(this.#due.length * 2);
  }

  #shrink(): void {
    this.#resize(Math.max(initialCapacity, this.#due.length / 2));
  }

  #resize(capacity: number): void {
    const due = new Float64Array(capacity);
    const offset = new Float64Array(capacity);
    due.set(this.#due.subarray(0, this.#size));
    offset.set(this.#offset.subarray(0, this.#size));
    this.#due = due;
    this.#offset = offset;
  }
}
