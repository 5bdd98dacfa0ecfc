interface Slot<V> {
  value: V;
  /** Read since it last came round the eviction hand: it gets a second chance. */
  used: boolean;
}

/**
 * A bounded map that forgets the least recently used entries first, approximately: the
 * CLOCK ("second chance") scheme. A read only sets a flag, so the hot path (every session
 * check reads two of these) does no Map re-insertion; eviction walks from the oldest entry,
 * moving flagged ones to the back with the flag cleared, and drops the first unflagged one.
 */
export class SecondChanceCache<K, V> {
  private readonly entries = new Map<K, Slot<V>>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('SecondChanceCache capacity must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const slot = this.entries.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    const slot = this.entries.get(key);
    if (slot !== undefined) {
      slot.value = value;
      slot.used = true;
      return;
    }
    this.entries.set(key, { value, used: false });
    if (this.entries.size > this.capacity) this.evictOne();
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  private evictOne(): void {
    // Terminates: every flagged entry is re-queued unflagged, so a full turn finds a victim.
    for (const [key, slot] of this.entries) {
      this.entries.delete(key);
      if (!slot.used) return;
      slot.used = false;
      this.entries.set(key, slot);
    }
  }
}
