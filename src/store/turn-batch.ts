interface Waiter<V> {
  resolve(value: V): void;
  reject(error: unknown): void;
}

/**
 * Lookups by key made in the same event-loop turn, answered together: by one call for the
 * whole turn (`ofBatches`: one query for the turn's requests, where each would otherwise make
 * its own round trip and the database would run one statement each), or by one read per
 * distinct key (`ofKeys`: requests asking the same thing in one turn share its answer).
 *
 * A lookup waits for the end of its turn (setImmediate, after the turn's I/O callbacks and
 * their promise jobs), so its read starts after every write answered before the lookup was
 * made; it never waits for another turn's batch. Nothing is remembered between turns. Lookups
 * of one key in one turn share the answer, or the error.
 */
export class TurnBatch<V> {
  private waiting = new Map<string, Waiter<V>[]>();

  private constructor(private readonly answer: (batch: Map<string, Waiter<V>[]>) => void) {}

  /**
   * One `load` per turn for all of its keys (each once); a key `load` did not find answers
   * undefined, and a failed load fails every lookup of its batch.
   */
  static ofBatches<V>(load: (keys: string[]) => Promise<Map<string, V>>): TurnBatch<V | undefined> {
    return new TurnBatch<V | undefined>((batch) => {
      // Called inside the promise chain, so a load that throws at once still only rejects.
      Promise.resolve([...batch.keys()])
        .then(load)
        .then(
          (found) => {
            for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(key));
          },
          (error: unknown) => {
            for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
          },
        );
    });
  }

  /** One `read` per distinct key of a turn, each settling only its own key's lookups. */
  static ofKeys<V>(read: (key: string) => Promise<V>): TurnBatch<V> {
    return new TurnBatch<V>((batch) => {
      for (const [key, waiters] of batch) {
        // Called inside the promise chain, so a read that throws at once still only rejects.
        Promise.resolve(key)
          .then(read)
          .then(
            (value) => {
              for (const waiter of waiters) waiter.resolve(value);
            },
            (error: unknown) => {
              for (const waiter of waiters) waiter.reject(error);
            },
          );
      }
    });
  }

  /** The value for `key`, read at the end of this turn together with the turn's other lookups. */
  get(key: string): Promise<V> {
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) setImmediate(() => this.flush());
      const waiters = this.waiting.get(key);
      if (waiters === undefined) this.waiting.set(key, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = new Map();
    this.answer(batch);
  }
}

/**
 * `Store.findCurrentStoredToken` for a store whose reads are round trips: the lookups of one
 * turn at one millisecond for one user (or for none) share one read; a failed read fails only
 * its own lookups.
 */
export function currentReadsOfTurn<V>(
  read: (nowMs: number, userId: string | undefined) => Promise<V>,
): (nowMs: number, userId: string | undefined) => Promise<V> {
  const batch = TurnBatch.ofKeys((key) => {
    const [nowMs, userId] = JSON.parse(key) as [number, string | null];
    return read(nowMs, userId ?? undefined);
  });
  return (nowMs, userId) => batch.get(JSON.stringify([nowMs, userId ?? null]));
}
