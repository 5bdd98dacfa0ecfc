/** Hashes a key to 32 bits; the table uses the low bits. */
export type KeyHash = (key: string) => number;

/** FNV-1a over the UTF-16 code units: for keys that are not already uniformly random. */
export const fnv1a: KeyHash = (key) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h;
};

/** The first four characters of a one-byte string of random bytes (a digest): already uniform. */
export const leadingBytes: KeyHash = (key) =>
  key.charCodeAt(0) | (key.charCodeAt(1) << 8) | (key.charCodeAt(2) << 16) | (key.charCodeAt(3) << 24);

export interface SlotTableOptions {
  /** Most entries; the least recently used (approximately) is dropped for a new one. */
  capacity: number;
  /** Numbers kept per entry (read and written with `number` / `setNumber`), each a uint32. */
  width: number;
  /** Keep one string per entry beside the key (`ref` / `setRef`). */
  refs?: boolean;
  hash: KeyHash;
}

const FIRST_SLOTS = 1024;

/**
 * A bounded string-keyed table of fixed-width numeric entries, built for caches of one entry
 * per session: no object per entry. Keys live in one array, numbers in one Uint32Array (Unix
 * seconds and versions fit until 2106; callers keep out what does not, `SlotTable.holds`), the
 * index is open addressing with linear probing over an Int32Array,
 * and eviction is CLOCK ("second chance"), as in SecondChanceCache: a read only sets a flag; a
 * new entry in a full table takes the first slot the hand finds unflagged, clearing the flags
 * it passes. Arrays grow by doubling up to `capacity`, so an idle table stays small.
 *
 * Per entry this costs the key's pointer, `width` x 4 bytes, 4 bytes of hash, 1 flag byte, two
 * to four index words, and a pointer for `refs`: a Map of objects costs several times that.
 */
export class SlotTable {
  readonly capacity: number;
  private readonly width: number;
  private readonly hashOf: KeyHash;
  private keys: (string | undefined)[] = [];
  private refs: (string | undefined)[] | null;
  private hashes = new Int32Array(0);
  private used = new Uint8Array(0);
  private values = new Uint32Array(0);
  /** slot + 1 at each position, 0 where empty. */
  private index = new Int32Array(0);
  private mask = 0;
  private allocated = 0;
  /** Slots handed out so far; below `capacity` a new entry takes the next one. */
  private next = 0;
  private readonly free: number[] = [];
  private hand = 0;
  private count = 0;

  constructor(options: SlotTableOptions) {
    const { capacity, width } = options;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('SlotTable capacity must be a positive integer');
    if (!Number.isInteger(width) || width < 0) throw new RangeError('SlotTable width must be a whole number');
    this.capacity = capacity;
    this.width = width;
    this.hashOf = options.hash;
    this.refs = options.refs === true ? [] : null;
    this.grow(Math.min(capacity, FIRST_SLOTS));
  }

  /** True when `value` can be stored as one of an entry's numbers and read back unchanged. */
  static holds(value: number): boolean {
    return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
  }

  get size(): number {
    return this.count;
  }

  /** The slot holding `key` (flagged as used), or -1. */
  find(key: string): number {
    const mask = this.mask;
    for (let at = this.hashOf(key) & mask; ; at = (at + 1) & mask) {
      const entry = this.index[at] as number;
      if (entry === 0) return -1;
      if (this.keys[entry - 1] === key) {
        this.used[entry - 1] = 1;
        return entry - 1;
      }
    }
  }

  /**
   * The slot for `key`: its own if present (flagged as used), else a new one, unflagged, whose
   * numbers and ref the caller must all set (they hold whatever the slot held before).
   */
  insert(key: string): number {
    const found = this.find(key);
    if (found >= 0) return found;
    const slot = this.takeSlot();
    const hash = this.hashOf(key);
    this.keys[slot] = key;
    this.hashes[slot] = hash;
    this.used[slot] = 0;
    this.place(slot, hash);
    this.count++;
    return slot;
  }

  delete(key: string): void {
    const mask = this.mask;
    for (let at = this.hashOf(key) & mask; ; at = (at + 1) & mask) {
      const entry = this.index[at] as number;
      if (entry === 0) return;
      if (this.keys[entry - 1] === key) {
        this.unplace(at);
        this.release(entry - 1);
        this.free.push(entry - 1);
        return;
      }
    }
  }

  clear(): void {
    this.keys = [];
    if (this.refs !== null) this.refs = [];
    this.index.fill(0);
    this.free.length = 0;
    this.next = 0;
    this.hand = 0;
    this.count = 0;
  }

  number(slot: number, field: number): number {
    return this.values[slot * this.width + field] as number;
  }

  /** `value` must pass `SlotTable.holds`. */
  setNumber(slot: number, field: number, value: number): void {
    this.values[slot * this.width + field] = value;
  }

  ref(slot: number): string {
    return this.refs?.[slot] as string;
  }

  setRef(slot: number, value: string): void {
    if (this.refs !== null) this.refs[slot] = value;
  }

  private takeSlot(): number {
    const freed = this.free.pop();
    if (freed !== undefined) return freed;
    if (this.next < this.capacity) {
      if (this.next === this.allocated) this.grow(Math.min(this.capacity, this.allocated * 2));
      return this.next++;
    }
    // Full: every slot holds an entry. Terminates: flags are cleared on the way, so a full turn
    // finds an unflagged slot.
    for (;;) {
      const slot = this.hand;
      this.hand = slot + 1 === this.capacity ? 0 : slot + 1;
      if (this.used[slot] === 1) {
        this.used[slot] = 0;
        continue;
      }
      this.delete(this.keys[slot] as string);
      this.free.pop();
      return slot;
    }
  }

  private release(slot: number): void {
    this.keys[slot] = undefined;
    if (this.refs !== null) this.refs[slot] = undefined;
    this.count--;
  }

  private place(slot: number, hash: number): void {
    const mask = this.mask;
    let at = hash & mask;
    while (this.index[at] !== 0) at = (at + 1) & mask;
    this.index[at] = slot + 1;
  }

  /** Empties position `hole`, moving later entries of the probe run back so none is cut off. */
  private unplace(hole: number): void {
    const mask = this.mask;
    let at = hole;
    for (;;) {
      at = (at + 1) & mask;
      const entry = this.index[at] as number;
      if (entry === 0) break;
      const home = (this.hashes[entry - 1] as number) & mask;
      // The entry at `at` may move into the hole unless its home lies cyclically in (hole, at].
      const staysPut = hole <= at ? hole < home && home <= at : hole < home || home <= at;
      if (staysPut) continue;
      this.index[hole] = entry;
      hole = at;
    }
    this.index[hole] = 0;
  }

  private grow(slots: number): void {
    const hashes = new Int32Array(slots);
    hashes.set(this.hashes);
    this.hashes = hashes;
    const used = new Uint8Array(slots);
    used.set(this.used);
    this.used = used;
    const values = new Uint32Array(slots * this.width);
    values.set(this.values);
    this.values = values;
    this.allocated = slots;
    // At most half full: short probe runs.
    let positions = 2;
    while (positions < slots * 2) positions *= 2;
    this.index = new Int32Array(positions);
    this.mask = positions - 1;
    for (let slot = 0; slot < this.next; slot++)
      if (this.keys[slot] !== undefined) this.place(slot, this.hashes[slot] as number);
  }
}
