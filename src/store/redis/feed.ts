import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { FeedListener, SessionEvent } from '../types.js';
import { reconnectDelay } from './connection.js';

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

function isEvent(value: unknown): value is SessionEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  if (event.type === 'created') return typeof event.jti === 'string';
  if (event.type === 'revoked') return isStringArray(event.jtis) && event.jtis.length > 0;
  if (event.type === 'version') return typeof event.version === 'number';
  return false;
}

/** Most own events remembered while their pub/sub copy is on its way; a bound, not a tuning knob. */
const MAX_AWAITED_COPIES = 10_000;

/**
 * Where an event this instance publishes stands. Its pub/sub copy and its script's reply
 * arrive on two connections, in either order; whichever comes first delivers the event.
 */
type OwnEvent = 'awaiting-reply' | 'delivered-from-copy' | 'awaiting-copy';

/**
 * The Redis change feed: one dedicated subscriber connection per store, opened on the first
 * `subscribe`, on the channel the scripts publish to.
 *
 * An instance's own events reach its listeners before the mutating call returns: as soon as
 * the script's reply is in, or earlier if the pub/sub copy comes first. Each message carries an
 * id unique to the call (`begin`), so the second arrival is recognised and skipped and a
 * listener sees each event once. A call that failed (`abandon`: maybe the script ran, the
 * reply was lost) delivers its copy whenever it comes: never a missed revocation.
 *
 * `up()` is sent only once the server has confirmed the subscription, `down()` as soon as the
 * connection drops: pub/sub keeps nothing for absent subscribers, so between the two,
 * events may have been missed and listeners must not trust memory.
 */
export class RedisFeed {
  /** Identifies this store instance; event ids are `<origin>:<n>`. */
  private readonly origin = randomUUID();
  private sequence = 0;
  private readonly ownEvents = new Map<string, OwnEvent>();
  private readonly listeners = new Set<FeedListener>();
  private subscriber: Redis | null = null;
  private live = false;
  private closed = false;
  /** Starts anywhere, so instances on a cluster do not all subscribe on the same node. */
  private generation = Math.floor(Math.random() * 1024);
  private readyCount = 0;
  /** Connections given up on in a row; sets the wait before the next one. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  /**
   * `connect(generation)` opens a new subscriber connection; on a cluster each generation may
   * pick another node, so a node that is gone for good is left behind.
   */
  constructor(
    private readonly channel: string,
    private readonly connect: (generation: number) => Redis,
  ) {}

  /** Call before a script that may publish: the id it publishes under (`{"id", "e"}`). */
  begin(): string {
    const id = `${this.origin}:${++this.sequence}`;
    this.ownEvents.set(id, 'awaiting-reply');
    return id;
  }

  /** The script `begin` was for published `event`: deliver it, unless its copy already did. */
  published(id: string, event: SessionEvent): void {
    if (this.ownEvents.get(id) === 'delivered-from-copy') {
      this.ownEvents.delete(id);
      return;
    }
    // Only a live subscription will see the copy; otherwise there is nothing to wait for.
    if (this.live) this.ownEvents.set(id, 'awaiting-copy');
    else this.ownEvents.delete(id);
    this.boundOwnEvents();
    this.deliver(event);
  }

  /** The script published nothing, or failed (perhaps after running): a copy counts as new. */
  abandon(id: string): void {
    this.ownEvents.delete(id);
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (this.closed) return () => this.listeners.delete(listener);
    if (this.subscriber === null && this.retryTimer === null) this.open();
    else if (this.live) {
      queueMicrotask(() => {
        if (this.live && this.listeners.has(listener)) listener.up();
      });
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stops the feed for good. Listeners are dropped without a `down()`, as the store is closing. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.ownEvents.clear();
    this.live = false;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private open(): void {
    const generation = ++this.generation;
    const subscriber = this.connect(generation);
    this.subscriber = subscriber;
    const current = () => this.subscriber === subscriber && !this.closed;
    // Errors are followed by 'close', which is what the feed acts on.
    subscriber.on('error', () => {});
    subscriber.on('ready', () => {
      // autoResubscribe is off: subscribing here, after every (re)connect, is what tells us
      // exactly when events flow again.
      const ready = ++this.readyCount;
      subscriber.subscribe(this.channel).then(
        () => {
          if (current() && ready === this.readyCount && subscriber.status === 'ready') this.setLive(true);
        },
        // A refused or timed-out SUBSCRIBE: reconnect, which subscribes again on 'ready'.
        () => {
          if (current() && subscriber.status === 'ready') subscriber.disconnect(true);
        },
      );
    });
    subscriber.on('close', () => {
      if (!current()) return;
      // Copies not received by now never will be: messages in flight died with the connection.
      for (const [id, state] of this.ownEvents) {
        if (state === 'awaiting-copy') this.ownEvents.delete(id);
      }
      this.setLive(false);
    });
    subscriber.on('end', () => {
      // No more retries on this connection (cluster: its node looks gone): try another one.
      if (!current()) return;
      this.setLive(false);
      this.subscriber = null;
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = null;
          if (!this.closed) this.open();
        },
        reconnectDelay(++this.failures),
      );
      this.retryTimer.unref();
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (current() && channel === this.channel) this.receive(message);
    });
  }

  private receive(message: string): void {
    let envelope: unknown;
    try {
      envelope = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof envelope !== 'object' || envelope === null) return;
    const { id, e } = envelope as Record<string, unknown>;
    if (typeof id !== 'string' || !isEvent(e)) return;
    const own = this.ownEvents.get(id);
    if (own === 'awaiting-copy') {
      this.ownEvents.delete(id);
      return;
    }
    if (own === 'awaiting-reply') this.ownEvents.set(id, 'delivered-from-copy');
    this.deliver(e);
  }

  private deliver(event: SessionEvent): void {
    for (const listener of [...this.listeners]) listener.event(event);
  }

  /** Drops the oldest entries past the bound (copies that will not come, e.g. published before we subscribed). */
  private boundOwnEvents(): void {
    for (const id of this.ownEvents.keys()) {
      if (this.ownEvents.size <= MAX_AWAITED_COPIES) return;
      this.ownEvents.delete(id);
    }
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    if (live) this.failures = 0;
    for (const listener of [...this.listeners]) {
      if (live) listener.up();
      else listener.down();
    }
  }
}
