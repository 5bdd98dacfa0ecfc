import type { StoredTokenQuery } from './types.js';

interface Waiter<V, A> {
  resolve(value: V): void;
  reject(error: unknown): void;
  /** What this lookup brings to the read (an audit entry), if anything. */
  arg: A;
}

/**
 * Lookups by key made in the same event-loop turn, answered together: by one call for the
 * whole turn (`ofBatches`: one query for the turn's requests, where each would otherwise make
 * its own round trip and the database would run one statement each), or by one read per
 * distinct key (`ofKeys`: requests asking the same thing in one turn share its answer).
 *
 * A lookup waits for the end of its turn (setImmediate, after the turn's I/O callbacks and
 * their promise jobs), so its read starts after every write answered before the lookup was
 * made. With `ofBatches`' `inFlight`, a turn's lookups that find that many batches still
 * running wait for one to settle, joined by the lookups of the turns until then: they go in
 * the next batch, which still starts after every write answered before any of them was made.
 * Nothing is remembered between batches. Lookups of one key in one batch share the answer, or
 * the error. A lookup may bring a value of its own (`A`: the audit entry of a recorded read),
 * which the read is given with the others of its key.
 */
export class TurnBatch<V, A = undefined> {
  private waiting = new Map<string, Waiter<V, A>[]>();
  /** When the first of the waiting lookups was made (performance.now()). */
  private waitingSince = 0;
  /** Batches answered and not settled yet (counted for `inFlight`). */
  private running = 0;
  /** The waiting lookups' turn has ended: they wait for a running batch to settle. */
  private held = false;

  private constructor(
    private readonly answer: (batch: Map<string, Waiter<V, A>[]>, since: number) => Promise<void> | void,
    private readonly inFlight = Number.POSITIVE_INFINITY,
  ) {
    if (!(inFlight === Number.POSITIVE_INFINITY || (Number.isInteger(inFlight) && inFlight >= 1)))
      throw new RangeError(`inFlight must be a whole number of at least 1, or Infinity; got ${inFlight}`);
  }

  /**
   * One `load` per turn for all of its keys (each once); a key `load` did not find answers
   * undefined, and a failed load fails every lookup of its batch. `since` is when the batch's
   * first lookup was made, for a deadline that counts the wait. With `inFlight`, at most that
   * many loads run at once (see the class).
   */
  static ofBatches<V, A = undefined>(
    load: (keys: string[], args: A[], since: number) => Promise<Map<string, V>>,
    { inFlight = Number.POSITIVE_INFINITY }: { inFlight?: number } = {},
  ): TurnBatch<V | undefined, A> {
    return new TurnBatch<V | undefined, A>(
      (batch, since) =>
        // Called inside the promise chain, so a load that throws at once still only rejects.
        Promise.resolve([...batch.keys()])
          .then((keys) =>
            load(
              keys,
              [...batch.values()].flatMap((waiters) => waiters.map((waiter) => waiter.arg)),
              since,
            ),
          )
          .then(
            (found) => {
              for (const [key, waiters] of batch)
                for (const waiter of waiters) waiter.resolve(found.get(key));
            },
            (error: unknown) => {
              for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
            },
          ),
      inFlight,
    );
  }

  /**
   * One `read` per distinct key of a turn, given what that key's lookups brought, each settling
   * only its own key's lookups.
   */
  static ofKeys<V, A = undefined>(read: (key: string, args: A[]) => Promise<V>): TurnBatch<V, A> {
    return new TurnBatch<V, A>((batch) => {
      for (const [key, waiters] of batch) {
        // Called inside the promise chain, so a read that throws at once still only rejects.
        Promise.resolve(key)
          .then((k) =>
            read(
              k,
              waiters.map((waiter) => waiter.arg),
            ),
          )
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

  /**
   * The value for `key`, read at the end of this turn together with the turn's other lookups;
   * `arg` goes to the read with it.
   */
  get(key: string, ...[arg]: A extends undefined ? [] : [A]): Promise<V> {
    return new Promise((resolve, reject) => {
      // Lookups are held only while some wait, so the first one of a new set always schedules.
      if (this.waiting.size === 0) {
        this.waitingSince = performance.now();
        setImmediate(() => this.flush());
      }
      const waiter = { resolve, reject, arg: arg as A };
      const waiters = this.waiting.get(key);
      if (waiters === undefined) this.waiting.set(key, [waiter]);
      else waiters.push(waiter);
    });
  }

  private flush(): void {
    if (this.running >= this.inFlight) {
      this.held = true;
      return;
    }
    this.held = false;
    const batch = this.waiting;
    this.waiting = new Map();
    const answered = this.answer(batch, this.waitingSince);
    if (answered === undefined) return;
    this.running++;
    // However the batch ended, its place is given up (`answered` settles its lookups either way).
    const settled = () => {
      this.running--;
      if (this.held) this.flush();
    };
    answered.then(settled, settled);
  }
}

/**
 * `Store.findCurrentStoredToken` (or, with the lookups' audit entries, `readCurrentStoredToken`)
 * for a store whose reads are round trips: the lookups of one turn at one millisecond for one
 * user (or for none) share one read, given what they brought; a failed read fails only its own
 * lookups.
 */
export function currentReadsOfTurn<V, A = undefined>(
  read: (nowMs: number, userId: string | undefined, args: A[]) => Promise<V>,
): (nowMs: number, userId: string | undefined, ...arg: A extends undefined ? [] : [A]) => Promise<V> {
  const batch = TurnBatch.ofKeys<V, A>((key, args) => {
    const [nowMs, userId] = JSON.parse(key) as [number, string | null];
    return read(nowMs, userId ?? undefined, args);
  });
  return (nowMs, userId, ...arg) => batch.get(JSON.stringify([nowMs, userId ?? null]), ...arg);
}

/**
 * `Store.listStoredTokens` for a store whose reads are round trips: requests for one page (the
 * same offset, limit and filters, and for a validity filter the same millisecond) in one turn
 * share one read, as lookups by id do; a failed read fails only its own page's requests.
 */
export function pagesOfTurn<V>(
  read: (query: StoredTokenQuery) => Promise<V>,
): (query: StoredTokenQuery) => Promise<V> {
  const batch = TurnBatch.ofKeys<V, StoredTokenQuery>((_key, queries) =>
    read(queries[0] as StoredTokenQuery),
  );
  return (query) => batch.get(pageKey(query), query);
}

/**
 * What makes two listing queries one page: the offset, limit and filters, and the millisecond
 * only with a validity filter (without one, pages of any millisecond are one).
 */
export function pageKey({ offset, limit, userId, valid, nowMs }: StoredTokenQuery): string {
  return JSON.stringify([offset, limit, userId ?? null, valid ?? null, valid === undefined ? null : nowMs]);
}
