import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { FeedListener, SessionEvent } from '../types.js';
import { quoteIdentifier } from './migrations.js';

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2000;
const HEARTBEAT_MS = 5000;

/**
 * The NOTIFY channel of one schema. Postgres rejects (pg_notify) or truncates (LISTEN) names
 * of 64 bytes or more, so a long schema name is shortened with a hash, the same everywhere.
 */
export function feedChannel(schema: string): string {
  const channel = `tessera_${schema}`;
  if (Buffer.byteLength(channel) <= 63) return channel;
  const digest = createHash('sha256').update(schema).digest('hex').slice(0, 16);
  return `tessera_${schema.slice(0, 38)}_${digest}`;
}

/** A NOTIFY payload: the event, and the id of the statement that sent it (absent from older senders). */
function parseMessage(payload: string | undefined): { id: string | null; event: SessionEvent } | null {
  try {
    const message = JSON.parse(payload ?? '') as Record<string, unknown> | null;
    const id = typeof message?.id === 'string' ? message.id : null;
    if (message?.type === 'created' && typeof message.jti === 'string') {
      return { id, event: { type: 'created', jti: message.jti } };
    }
    if (message?.type === 'revoked' && Array.isArray(message.jtis)) {
      return { id, event: { type: 'revoked', jtis: message.jtis as string[] } };
    }
    if (message?.type === 'version' && typeof message.version === 'number') {
      return { id, event: { type: 'version', version: message.version } };
    }
  } catch {
    // Not ours or malformed: someone else may NOTIFY on the channel; ignore it.
  }
  return null;
}

/** Most own events remembered while their NOTIFY copy is on its way; a bound, not a tuning knob. */
const MAX_AWAITED_COPIES = 10_000;

/**
 * Where an event this instance sent stands. The statement's reply and its NOTIFY copy arrive
 * on two connections, in either order; whichever comes first delivers the event.
 */
type OwnEvent = 'delivered-from-copy' | 'awaiting-copy';

/**
 * One dedicated connection doing LISTEN for every subscriber of a store. It connects when
 * the first listener subscribes, tells listeners `up()` once LISTEN is in place and `down()`
 * when the connection is lost, then reconnects with backoff (100 ms doubling to 2 s).
 *
 * An instance's own events reach its listeners before the mutating call returns (`published`,
 * as soon as the statement's reply is in), so a request that follows a revocation on the same
 * instance is refused. Each NOTIFY carries the sending statement's id (`nextEventId`), so the
 * second arrival of an own event is recognised and skipped: a listener sees each event once.
 *
 * A connection can also die silently (a NAT drops it, a failover leaves no RST): no error,
 * just no more NOTIFYs, while listeners trust their memory. So a heartbeat query runs every
 * `heartbeatMs`; one not answered by the next beat counts as a lost connection.
 */
export class PostgresFeed {
  /** Identifies this store instance; event ids are `<origin>:<n>[:<chunk>]`. */
  private readonly origin = `${randomUUID()}:`;
  private sequence = 0;
  private readonly ownEvents = new Map<string, OwnEvent>();
  private readonly listeners = new Set<FeedListener>();
  private client: Client | null = null;
  private live = false;
  private closed = false;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    readonly channel: string,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {}

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (this.live) queueMicrotask(() => this.listeners.has(listener) && listener.up());
    else if (this.client === null && this.retryTimer === null) void this.connect();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The id a mutating statement puts in its NOTIFY payloads (chunks append `:<n>`). */
  nextEventId(): string {
    return `${this.origin}${++this.sequence}`;
  }

  /** The statement that sent `event` under `id` committed: deliver it, unless its copy already did. */
  published(id: string, event: SessionEvent): void {
    if (this.ownEvents.get(id) === 'delivered-from-copy') {
      this.ownEvents.delete(id);
      return;
    }
    // Only a live LISTEN will see the copy; otherwise there is nothing to wait for.
    if (this.live) this.remember(id, 'awaiting-copy');
    this.deliver((listener) => listener.event(event));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.ownEvents.clear();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    const client = this.client;
    this.client = null;
    this.live = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    // Named, so operators (and tests) find the LISTEN connection in pg_stat_activity.
    const client = new Client({
      connectionString: this.url,
      connectionTimeoutMillis: 3000,
      application_name: 'tessera-feed',
    });
    this.client = client;
    // Registered before connecting: an error event without a handler would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (this.client !== client || message.channel !== this.channel) return;
      const parsed = parseMessage(message.payload);
      if (parsed !== null) this.receive(parsed.id, parsed.event);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(this.channel)}`);
    } catch {
      this.lost(client);
      return;
    }
    if (this.client !== client) return;
    this.live = true;
    this.retryMs = RETRY_FIRST_MS;
    this.startHeartbeat(client);
    this.deliver((listener) => listener.up());
  }

  private receive(id: string | null, event: SessionEvent): void {
    if (id?.startsWith(this.origin)) {
      if (this.ownEvents.get(id) === 'awaiting-copy') {
        this.ownEvents.delete(id);
        return;
      }
      // The copy came before the reply (or the call failed after committing): deliver it now.
      this.remember(id, 'delivered-from-copy');
    }
    this.deliver((listener) => listener.event(event));
  }

  /** Records an own event, dropping the oldest past the bound (copies or replies that never came). */
  private remember(id: string, state: OwnEvent): void {
    this.ownEvents.set(id, state);
    for (const oldest of this.ownEvents.keys()) {
      if (this.ownEvents.size <= MAX_AWAITED_COPIES) return;
      this.ownEvents.delete(oldest);
    }
  }

  private startHeartbeat(client: Client): void {
    let waiting = false;
    this.heartbeat = setInterval(() => {
      if (waiting) return this.lost(client);
      waiting = true;
      client.query('SELECT 1').then(
        () => {
          waiting = false;
        },
        () => this.lost(client),
      );
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** The connection `client` failed or ended: report it once, then reconnect. */
  private lost(client: Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.stopHeartbeat();
    // With a query in flight, end() destroys the socket rather than waiting on a dead peer.
    client.end().catch(() => undefined);
    // Copies not received by now never will be: NOTIFYs in flight died with the connection.
    for (const [id, state] of this.ownEvents) {
      if (state === 'awaiting-copy') this.ownEvents.delete(id);
    }
    if (this.live) {
      this.live = false;
      this.deliver((listener) => listener.down());
    }
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.listeners.size > 0) void this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  /** Calls every listener; one listener's failure neither stops the others nor the feed. */
  private deliver(call: (listener: FeedListener) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        call(listener);
      } catch (error) {
        process.emitWarning(error instanceof Error ? error : String(error), 'TesseraFeedListenerError');
      }
    }
  }
}
