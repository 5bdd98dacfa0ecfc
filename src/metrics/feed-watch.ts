import type { Clock } from '../clock.js';
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';

/**
 * Follows the store's change feed for the metrics: whether it is up, since when it is down (the
 * time during which memory may have missed events and checks read the store), and the events
 * it carries. Started once the store is migrated, like every other follower.
 */
export class FeedWatch {
  private up = false;
  private downSinceMs: number;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: Pick<Store, 'subscribe'>,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {
    this.downSinceMs = clock.now();
  }

  get isUp(): boolean {
    return this.up;
  }

  /** 0 while the feed is up; otherwise seconds since it went down (or since this began). */
  get lagSeconds(): number {
    return this.up ? 0 : Math.max(0, this.clock.now() - this.downSinceMs) / 1000;
  }

  start(): void {
    if (this.unsubscribe !== null) return;
    this.unsubscribe = this.store.subscribe({
      event: (event) => this.metrics.feedEvents.inc({ type: event.type }),
      up: () => {
        this.up = true;
      },
      down: () => this.markDown(),
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.markDown();
  }

  private markDown(): void {
    if (this.up) this.downSinceMs = this.clock.now();
    this.up = false;
  }
}
