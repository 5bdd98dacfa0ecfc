import type { Redis } from 'ioredis';
import type { FeedTransport, TransportSink } from '../feed/transport.js';
import { REDIS_DEADLINES, reconnectDelay } from './connection.js';

/**
 * Redis pub/sub on one dedicated subscriber connection (a subscribed connection can run
 * nothing else), on the channel the scripts publish to.
 *
 * `up` is reported only once the server has confirmed the subscription, `down` as soon as the
 * connection drops: pub/sub keeps nothing for absent subscribers, so between the two, messages
 * may have been missed. On a cluster, a connection that gives up on its node is replaced by one
 * to another node (`connect(generation)` picks which).
 *
 * A connection can also go silent without closing (the server stops answering, a NAT forgets
 * it): no error, just no more messages, while listeners trust their memory. So a heartbeat
 * PINGs every `heartbeatMs` (PING is allowed on a subscribed connection); one not answered by
 * the next beat reports `down` at once and reconnects, which subscribes again.
 */
export class RedisFeedTransport implements FeedTransport {
  readonly echoesOwnMessages = true;
  private sink: TransportSink | null = null;
  private subscriber: Redis | null = null;
  private closed = false;
  /** Starts anywhere, so instances on a cluster do not all subscribe on the same node. */
  private generation = Math.floor(Math.random() * 1024);
  private readyCount = 0;
  /** Connections given up on in a row; sets the wait before the next one. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  /**
   * `connect(generation)` opens a new subscriber connection; on a cluster each generation may
   * pick another node, so a node that is gone for good is left behind.
   */
  constructor(
    private readonly channel: string,
    private readonly connect: (generation: number) => Redis,
    private readonly heartbeatMs: number = REDIS_DEADLINES.feedHeartbeatMs,
  ) {}

  start(sink: TransportSink): void {
    this.sink = sink;
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private open(): void {
    const sink = this.sink;
    if (this.closed || sink === null) return;
    const subscriber = this.connect(++this.generation);
    this.subscriber = subscriber;
    const current = () => this.subscriber === subscriber && !this.closed;
    // Errors are followed by 'close', which is what the transport acts on.
    subscriber.on('error', () => {});
    subscriber.on('ready', () => {
      // autoResubscribe is off: subscribing here, after every (re)connect, is what tells us
      // exactly when messages flow again.
      const ready = ++this.readyCount;
      subscriber.subscribe(this.channel).then(
        () => {
          if (current() && ready === this.readyCount && subscriber.status === 'ready') {
            this.failures = 0;
            this.startHeartbeat(subscriber);
            sink.up();
          }
        },
        // A refused or timed-out SUBSCRIBE: reconnect, which subscribes again on 'ready'.
        () => {
          if (current() && subscriber.status === 'ready') subscriber.disconnect(true);
        },
      );
    });
    subscriber.on('close', () => {
      if (!current()) return;
      this.stopHeartbeat();
      sink.down();
    });
    subscriber.on('end', () => {
      // No more retries on this connection (cluster: its node looks gone): try another one.
      if (!current()) return;
      sink.down();
      this.subscriber = null;
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = null;
          this.open();
        },
        reconnectDelay(++this.failures),
      );
      this.retryTimer.unref();
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (current() && channel === this.channel) sink.message(message);
    });
  }

  private startHeartbeat(subscriber: Redis): void {
    this.stopHeartbeat();
    let waiting = false;
    const beat: NodeJS.Timeout = setInterval(() => {
      if (waiting) return this.silent(subscriber, beat);
      waiting = true;
      subscriber.ping().then(
        () => {
          waiting = false;
        },
        () => this.silent(subscriber, beat),
      );
    }, this.heartbeatMs);
    beat.unref();
    this.heartbeat = beat;
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /**
   * The heartbeat `beat` of `subscriber` went unanswered: messages may be lost from now on, so
   * `down` at once, without waiting for the connection to close; then reconnect.
   */
  private silent(subscriber: Redis, beat: NodeJS.Timeout): void {
    if (this.heartbeat !== beat || this.subscriber !== subscriber || this.closed) return;
    this.stopHeartbeat();
    this.sink?.down();
    subscriber.disconnect(true);
  }
}
