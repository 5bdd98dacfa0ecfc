import { createHash } from 'node:crypto';
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

function parseEvent(payload: string | undefined): SessionEvent | null {
  try {
    const event = JSON.parse(payload ?? '') as Partial<SessionEvent> | null;
    if (event?.type === 'created' && typeof event.jti === 'string') return event as SessionEvent;
    if (event?.type === 'revoked' && Array.isArray(event.jtis)) return event as SessionEvent;
    if (event?.type === 'version' && typeof event.version === 'number') return event as SessionEvent;
  } catch {
    // Not ours or malformed: someone else may NOTIFY on the channel; ignore it.
  }
  return null;
}

/**
 * One dedicated connection doing LISTEN for every subscriber of a store. It connects when
 * the first listener subscribes, tells listeners `up()` once LISTEN is in place and `down()`
 * when the connection is lost, then reconnects with backoff (100 ms doubling to 2 s).
 * Events, this instance's included, arrive only through NOTIFY, so each arrives once.
 *
 * A connection can also die silently (a NAT drops it, a failover leaves no RST): no error,
 * just no more NOTIFYs, while listeners trust their memory. So a heartbeat query runs every
 * `heartbeatMs`; one not answered by the next beat counts as a lost connection.
 */
export class PostgresFeed {
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

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
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
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 3000 });
    this.client = client;
    // Registered before connecting: an error event without a handler would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (this.client !== client || message.channel !== this.channel) return;
      const event = parseEvent(message.payload);
      if (event !== null) this.deliver((listener) => listener.event(event));
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
