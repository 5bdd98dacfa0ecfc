import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { backoffDelay } from '../../backoff.js';
import type { FeedTransport, TransportSink } from '../feed/transport.js';
import { POSTGRES_DEADLINES } from './deadlines.js';
import { quoteIdentifier } from './migrations.js';

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

/**
 * Postgres LISTEN on one dedicated connection. It reports `up` once LISTEN is in place and
 * `down` when the connection is lost, then reconnects with backoff (100 ms doubling to 2 s).
 *
 * A connection can also die silently (a NAT drops it, a failover leaves no RST, the server
 * stops answering): no error, just no more NOTIFYs, while listeners trust their memory. So a
 * heartbeat runs every `heartbeatMs`; one not answered by the next beat (or within the reply
 * deadline, the same) counts as a lost connection. Connecting and LISTEN are bounded too
 * (deadlines.ts), so neither can hang.
 */
export class PostgresFeedTransport implements FeedTransport {
  readonly echoesOwnMessages = true;
  private sink: TransportSink | null = null;
  private client: Client | null = null;
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    readonly channel: string,
    private readonly heartbeatMs: number = POSTGRES_DEADLINES.feedHeartbeatMs,
  ) {}

  start(sink: TransportSink): void {
    this.sink = sink;
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed || this.sink === null) return;
    const sink = this.sink;
    // Named, so operators (and tests) find the LISTEN connection in pg_stat_activity.
    const client = new Client({
      connectionString: this.url,
      connectionTimeoutMillis: POSTGRES_DEADLINES.connectMs,
      statement_timeout: POSTGRES_DEADLINES.statementMs,
      query_timeout: this.heartbeatMs,
      application_name: 'tessera-feed',
    });
    this.client = client;
    // Registered before connecting: an error event without a handler would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (this.client === client && message.channel === this.channel) sink.message(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(this.listenStatement());
    } catch {
      this.lost(client);
      return;
    }
    if (this.client !== client) return;
    this.failures = 0;
    this.startHeartbeat(client);
    sink.up();
  }

  private startHeartbeat(client: Client): void {
    // The beat repeats the LISTEN: a round trip like any other and a no-op for the server, and
    // pg_stat_activity keeps showing what the connection is for.
    const listen = this.listenStatement();
    let waiting = false;
    this.heartbeat = setInterval(() => {
      if (waiting) return this.lost(client);
      waiting = true;
      client.query(listen).then(
        () => {
          waiting = false;
        },
        () => this.lost(client),
      );
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private listenStatement(): string {
    return `LISTEN ${quoteIdentifier(this.channel)}`;
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
    this.sink?.down();
    if (this.closed) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        void this.connect();
      },
      backoffDelay(++this.failures, 100, 2000),
    );
    this.retryTimer.unref();
  }
}
