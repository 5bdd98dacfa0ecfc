import { randomUUID } from 'node:crypto';
import type { FeedEvent, FeedListener } from '../types.js';
import type { FeedTransport, TransportSink } from './transport.js';
import { decodeEnvelope } from './wire.js';

/** An event a statement of this instance published, under the id it was published with. */
export interface PublishedEvent {
  /** The statement id, or `<statement id>#<chunk>` when one statement sent several messages. */
  id: string;
  event: FeedEvent;
}

export interface ChangeFeedOptions {
  /** Told when a listener throws; the other listeners and the feed carry on. */
  onListenerError?: (error: unknown) => void;
}

/** Most own events remembered while their copy is on its way; a bound, not a tuning knob. */
const MAX_AWAITED_COPIES = 10_000;

const warn = (error: unknown) =>
  process.emitWarning(error instanceof Error ? error : String(error), 'TesseraFeedListenerError');

/**
 * The change feed of one store instance, the same for every backend: the transport only moves
 * messages; this decides what listeners are told.
 *
 * - **Own events, once, before the call returns.** A mutating statement runs through
 *   `publishing`, which gives it an id (`<origin>:<n>`) to publish under and, as soon as its
 *   reply is in, delivers its events to this instance's listeners. So a request that follows a
 *   revocation on the same instance is refused without waiting for a round trip. Where the
 *   transport echoes an instance's own messages, the copy and the reply arrive on two
 *   connections in either order: whichever comes first delivers, the second is recognised by
 *   its id and dropped. A statement that failed (perhaps after committing) delivers its copy
 *   whenever it comes: never a missed revocation.
 * - **Fan-out.** A listener that throws is reported and neither stops the others nor the feed.
 * - **Up, down, resync.** Listeners hear `up()` once messages flow (and on subscribing to a
 *   live feed), `down()` as soon as they may be lost, and a `down()`/`up()` pair when the
 *   transport learns of a change no message describes.
 */
export class ChangeFeed {
  private readonly origin = `${randomUUID()}:`;
  private sequence = 0;
  /** Statements in flight, each with the ids of its events whose copy came before its reply. */
  private readonly inFlight = new Map<string, Set<string>>();
  /** Own events delivered from the reply, whose copy is still on its way. */
  private readonly awaitingCopy = new Set<string>();
  private readonly listeners = new Set<FeedListener>();
  private readonly onListenerError: (error: unknown) => void;
  private started = false;
  private live = false;
  private closed = false;

  constructor(
    private readonly transport: FeedTransport,
    options: ChangeFeedOptions = {},
  ) {
    this.onListenerError = options.onListenerError ?? warn;
  }

  /** Adds a listener; the transport starts with the first one. Returns an unsubscribe function. */
  subscribe(listener: FeedListener): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    if (!this.started) {
      this.started = true;
      this.transport.start(this.sink);
    } else if (this.live) {
      queueMicrotask(() => {
        if (this.live && this.listeners.has(listener)) this.call(listener, (l) => l.up());
      });
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Runs a mutating statement and delivers the events it published to this instance's
   * listeners before resolving. `statement` gets the id to publish under; `eventsOf` says
   * which events its reply shows were published (none when nothing changed).
   */
  async publishing<R>(
    statement: (id: string) => Promise<R>,
    eventsOf: (reply: R, id: string) => PublishedEvent[],
  ): Promise<R> {
    const id = `${this.origin}${++this.sequence}`;
    const deliveredFromCopy = new Set<string>();
    this.inFlight.set(id, deliveredFromCopy);
    try {
      const reply = await statement(id);
      for (const published of eventsOf(reply, id)) {
        if (deliveredFromCopy.delete(published.id)) continue;
        // Only a live transport will bring the copy; otherwise there is nothing to wait for.
        if (this.transport.echoesOwnMessages && this.live) this.awaitCopy(published.id);
        this.deliver((listener) => listener.event(published.event));
      }
      return reply;
    } finally {
      this.inFlight.delete(id);
    }
  }

  /** Stops for good. Listeners hear `down()` (nothing more will reach them) and are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const wasLive = this.live;
    this.live = false;
    this.awaitingCopy.clear();
    if (wasLive) this.deliver((listener) => listener.down());
    this.listeners.clear();
    await this.transport.close();
  }

  private readonly sink: TransportSink = {
    message: (payload) => this.receive(payload),
    up: () => {
      if (this.closed || this.live) return;
      this.live = true;
      this.deliver((listener) => listener.up());
    },
    down: () => {
      // Copies not received by now never will be: messages in flight died with the connection.
      this.awaitingCopy.clear();
      if (this.closed || !this.live) return;
      this.live = false;
      this.deliver((listener) => listener.down());
    },
    changed: () => {
      if (this.closed || !this.live) return;
      this.deliver((listener) => listener.down());
      this.deliver((listener) => listener.up());
    },
  };

  private receive(payload: string): void {
    if (this.closed) return;
    const envelope = decodeEnvelope(payload);
    if (envelope === null) return;
    const { id, event } = envelope;
    if (id?.startsWith(this.origin)) {
      if (this.awaitingCopy.delete(id)) return;
      // The copy came before the reply: deliver it now, and let the reply know.
      const chunk = id.indexOf('#');
      this.inFlight.get(chunk === -1 ? id : id.slice(0, chunk))?.add(id);
    }
    this.deliver((listener) => listener.event(event));
  }

  /** Remembers an own event until its copy comes, dropping the oldest past the bound. */
  private awaitCopy(id: string): void {
    this.awaitingCopy.add(id);
    if (this.awaitingCopy.size <= MAX_AWAITED_COPIES) return;
    const oldest = this.awaitingCopy.values().next().value;
    if (oldest !== undefined) this.awaitingCopy.delete(oldest);
  }

  private deliver(call: (listener: FeedListener) => void): void {
    for (const listener of [...this.listeners]) this.call(listener, call);
  }

  private call(listener: FeedListener, call: (listener: FeedListener) => void): void {
    try {
      call(listener);
    } catch (error) {
      this.onListenerError(error);
    }
  }
}
