import type { ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { StoreUnavailableError } from '../errors.js';
import type { Caller } from '../http/auth.js';
import type { FeedEvent, Store } from '../store/types.js';
import {
  readSnapshot,
  type SessionEvents,
  SSE_KEEPALIVE,
  sseFrame,
  streamEventsOf,
} from './session-events.js';

export interface EventStreamOptions {
  store: Store;
  clock: Clock;
  /** Who opened the stream: it ends when that credential stops being valid. */
  caller: Caller;
  keepaliveMs: number;
  /** How long to wait for the change feed to be live before refusing with 503. */
  feedTimeoutMs: number;
  /** Told once the stream has ended, whatever ended it. */
  onEnd(): void;
}

/** Bytes a slow reader may leave unread before its stream is ended (it reconnects and resyncs). */
const MAX_UNREAD_BYTES = 1 << 20;

/**
 * One client's event stream. It subscribes to the change feed *before* it reads the snapshot
 * and holds back what arrives meanwhile, so no event between the snapshot and the live events
 * is lost (an event already in the snapshot may come again; applying it twice is harmless).
 * It never papers over a gap: when the feed goes down (or resynchronises, which means events
 * may have been missed) the stream ends, and a client that reconnects starts from a new
 * snapshot.
 */
export class EventStream {
  private readonly held: FeedEvent[] = [];
  private response: ServerResponse | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;
  private nextId = 1;
  private ended = false;
  private settleOpen!: (outcome: SessionEvents['snapshot'] | Error) => void;
  /** The snapshot once the feed is live and it has been read; an error when it cannot be. */
  readonly opened: Promise<SessionEvents['snapshot'] | Error>;

  constructor(private readonly options: EventStreamOptions) {
    this.opened = new Promise((resolve) => {
      this.settleOpen = resolve;
    });
    const timeout = setTimeout(
      () => this.settleOpen(new StoreUnavailableError(options.store.backend)),
      options.feedTimeoutMs,
    );
    timeout.unref();
    void this.opened.then(() => clearTimeout(timeout));
    let wasUp = false;
    this.unsubscribe = options.store.subscribe({
      event: (event) => this.receive(event),
      up: () => {
        // A second up() follows a down(), which already ended the stream.
        if (wasUp) return this.end();
        wasUp = true;
        readSnapshot(options.store, options.clock.now()).then(
          (snapshot) => this.settleOpen(snapshot),
          (error: unknown) => this.settleOpen(error instanceof Error ? error : new Error(String(error))),
        );
      },
      down: () => {
        this.settleOpen(new StoreUnavailableError(options.store.backend));
        this.end();
      },
    });
  }

  /** Starts sending on `response`: headers, the snapshot, what was held back, then live events. */
  start(response: ServerResponse, snapshot: SessionEvents['snapshot']): void {
    if (this.ended) {
      response.destroy();
      return;
    }
    this.response = response;
    response.on('close', () => this.end());
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    this.send(sseFrame(this.nextId++, { event: 'snapshot', data: snapshot }));
    // A credential revoked between the auth check and the feed subscription is in the snapshot,
    // not in the events: the stream ends at once. A session's stream ends when the session expires.
    const { session } = this.options.caller;
    if (session !== null) {
      const leftMs = session.exp * 1000 - this.options.clock.now();
      if (snapshot.revoked.includes(session.jti) || snapshot.version > session.v || leftMs <= 0) {
        this.end();
        return;
      }
      this.expiry = setTimeout(() => this.end(), leftMs);
      this.expiry.unref();
    }
    for (const event of this.held.splice(0)) this.forward(event);
    this.keepalive = setInterval(() => this.send(SSE_KEEPALIVE), this.options.keepaliveMs);
    this.keepalive.unref();
  }

  /** Ends the stream and lets go of the feed; ending again does nothing. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.settleOpen(new StoreUnavailableError(this.options.store.backend));
    this.unsubscribe();
    if (this.keepalive !== null) clearInterval(this.keepalive);
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.held.length = 0;
    this.response?.end();
    this.options.onEnd();
  }

  private receive(event: FeedEvent): void {
    if (this.ended) return;
    if (this.response === null) this.held.push(event);
    else this.forward(event);
  }

  private forward(event: FeedEvent): void {
    for (const streamed of streamEventsOf(event)) this.send(sseFrame(this.nextId++, streamed));
    if (this.endsCredential(event)) this.end();
  }

  private send(text: string): void {
    const response = this.response;
    if (this.ended || response === null) return;
    response.write(text);
    if (response.writableLength > MAX_UNREAD_BYTES) this.end();
  }

  /** A stream lives no longer than the credential that opened it. */
  private endsCredential(event: FeedEvent): boolean {
    const { session, apiKey, via } = this.options.caller;
    if (event.type === 'api_key_revoked') return apiKey?.id === event.id;
    if (event.type === 'admin_key_rotated') return via === 'key';
    if (session === null) return false;
    if (event.type === 'revoked') return event.jtis.includes(session.jti);
    if (event.type === 'version') return event.version > session.v;
    return false;
  }
}
