/**
 * Lookups by key made in the same event-loop turn, answered together by one call of `load`
 * (one query for the turn's requests, where each would otherwise make its own round trip and
 * the database would run one statement each).
 *
 * A lookup waits for the end of its turn (setImmediate, after the turn's I/O callbacks and
 * their promise jobs), never for another turn's batch. Nothing is remembered between turns:
 * each lookup reads the store, after every write answered before it was made. Lookups of one
 * key in one turn share the answer; a failed load fails every lookup of its batch.
 */
export class TurnBatch<V> {
  private waiting = new Map<
    string,
    { resolve(value: V | undefined): void; reject(error: unknown): void }[]
  >();

  /** @param load answers a turn's keys (each once): the values it found, by key. */
  constructor(private readonly load: (keys: string[]) => Promise<Map<string, V>>) {}

  /** The value stored under `key`, or undefined when there is none. */
  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) setImmediate(() => void this.flush());
      const lookups = this.waiting.get(key);
      if (lookups === undefined) this.waiting.set(key, [{ resolve, reject }]);
      else lookups.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    try {
      const found = await this.load([...batch.keys()]);
      for (const [key, lookups] of batch) for (const lookup of lookups) lookup.resolve(found.get(key));
    } catch (error) {
      for (const lookups of batch.values()) for (const lookup of lookups) lookup.reject(error);
    }
  }
}
