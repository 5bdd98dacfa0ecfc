import type { FeedEvent, Store } from '../types.js';

export interface FollowerHandlers {
  /** An event from any instance (this one's own before its call returned). */
  event(event: FeedEvent): void;
  /**
   * The feed is (back) up: forget what may be stale and load what must be known before memory
   * can be trusted again. Memory is trusted once this resolves.
   */
  resync(): Promise<void> | void;
  onError(error: unknown, context: string): void;
  /** Names the follower in error reports. */
  what: string;
}

const RESYNC_RETRY_MS = 1000;

/**
 * Memory kept exact by the store's change feed (the session check, API keys, the admin key,
 * throttles): trusted only while the feed is live and resynchronised since it came up. While
 * it is not, callers read the store: never a stale "yes".
 *
 * `epoch` moves with every event and every loss of the feed, so a store read that overlapped
 * one can tell, and does not fill the memory with what it saw before.
 */
export class FeedFollower {
  private live = false;
  private feedUp = false;
  private events = 0;
  private resyncs = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: Pick<Store, 'subscribe'>,
    private readonly handlers: FollowerHandlers,
  ) {}

  /** True while memory may be trusted. */
  get isLive(): boolean {
    return this.live;
  }

  /** Changes with every event and every loss: compare before and after a store read. */
  get epoch(): number {
    return this.events;
  }

  start(): void {
    if (this.unsubscribe !== null) return;
    this.unsubscribe = this.store.subscribe({
      event: (event) => {
        this.events++;
        this.handlers.event(event);
      },
      up: () => void this.resync(),
      down: () => {
        this.feedUp = false;
        this.markDown();
      },
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.markDown();
  }

  private markDown(): void {
    this.live = false;
    this.events++;
  }

  private async resync(): Promise<void> {
    this.feedUp = true;
    this.markDown();
    const attempt = ++this.resyncs;
    try {
      await this.handlers.resync();
      // A newer resync, a lost feed or stop() since we began: that path decides, not this one.
      if (attempt !== this.resyncs || !this.feedUp || this.unsubscribe === null) return;
      this.live = true;
    } catch (error) {
      this.handlers.onError(error, `${this.handlers.what} resync`);
      const retry = setTimeout(() => {
        if (attempt === this.resyncs && this.feedUp && this.unsubscribe !== null) void this.resync();
      }, RESYNC_RETRY_MS);
      retry.unref();
    }
  }
}
