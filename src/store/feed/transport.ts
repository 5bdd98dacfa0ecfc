/**
 * What a backend's feed transport does: move messages, and say when it can be trusted. It
 * decides nothing about them; the change feed (`change-feed.ts`) does that, once for every
 * backend.
 */
export interface FeedTransport {
  /**
   * True when an instance's own messages come back to it through the transport (Postgres
   * NOTIFY, Redis pub/sub), so the feed must recognise the copy and not deliver it twice.
   */
  readonly echoesOwnMessages: boolean;
  /** Starts moving messages to `sink`. Called once, on the first subscription. */
  start(sink: TransportSink): void;
  /** Stops for good and releases the connection or timer. */
  close(): Promise<void>;
}

export interface TransportSink {
  /** A message as it came off the wire; the feed decodes it and ignores what is not ours. */
  message(payload: string): void;
  /** Messages flow (again): anything may have been missed before, so listeners resync. */
  up(): void;
  /** Messages may be lost from now on, until `up`. */
  down(): void;
  /**
   * Something changed that no message describes (SQLite: another process committed to the
   * file): listeners resynchronise, as after a reconnection.
   */
  changed(): void;
}
