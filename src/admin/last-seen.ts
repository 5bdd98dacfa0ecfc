import type { Clock } from '../clock.js';

/** Last use is written at most this often per session (or API key). */
export const LAST_SEEN_INTERVAL_MS = 60_000;
const FLUSH_INTERVAL_MS = 5_000;

export interface LastSeenOptions {
  /** Writes one batch: id to ms (`store.touchSessions`, `store.touchApiKeys`). */
  write(batch: Map<string, number>): Promise<void>;
  /** Names the batch in error reports (`last_seen_at`). */
  what: string;
  clock: Clock;
  /** Most ids whose last write is remembered; a forgotten one is simply written again. */
  capacity: number;
  onError(error: unknown, context: string): void;
}

/**
 * Records when sessions (or API keys) were last used without a write per request: each is
 * noted at most once a minute, and the notes are written in one batch every few seconds, off
 * the request path. Used whichever way sessions are checked.
 */
export class LastSeenBatcher {
  /**
   * When each id was last noted, oldest first (an id noted again moves to the end). Only the
   * last minute matters, so older entries are dropped at every flush: memory follows the ids
   * used in the last minute, not every session an instance has seen. Times are kept as ms
   * since `origin`: small integers, stored in the map itself, where an epoch ms value would
   * need a heap number per entry.
   */
  private readonly written = new Map<string, number>();
  private readonly origin: number;
  private readonly pending = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: LastSeenOptions) {
    this.origin = options.clock.now();
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and writes what is pending. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** `id` (a jti, an API key id) was just used. */
  note(id: string): void {
    const nowMs = this.options.clock.now();
    const sinceOrigin = nowMs - this.origin;
    const last = this.written.get(id);
    if (last !== undefined && sinceOrigin - last < LAST_SEEN_INTERVAL_MS) return;
    this.written.delete(id);
    this.written.set(id, sinceOrigin);
    this.pending.set(id, nowMs);
    if (this.written.size > this.options.capacity) this.forgetOldest();
  }

  /** Drops notes older than the interval (they no longer hold anything back). */
  private forgetOld(nowMs: number): void {
    const sinceOrigin = nowMs - this.origin;
    for (const [id, atMs] of this.written) {
      if (sinceOrigin - atMs < LAST_SEEN_INTERVAL_MS) return;
      this.written.delete(id);
    }
  }

  private forgetOldest(): void {
    const oldest = this.written.keys().next().value;
    if (oldest !== undefined) this.written.delete(oldest);
  }

  /** Writes the pending notes in one batch; a failure is reported, never thrown. */
  async flush(): Promise<void> {
    this.forgetOld(this.options.clock.now());
    if (this.pending.size === 0) return;
    const batch = new Map(this.pending);
    this.pending.clear();
    try {
      await this.options.write(batch);
    } catch (error) {
      this.options.onError(error, `${this.options.what} flush`);
    }
  }
}
