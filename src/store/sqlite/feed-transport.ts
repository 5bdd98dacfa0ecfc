import type { FeedTransport, TransportSink } from '../feed/transport.js';

/**
 * The embedded store's feed. Its own events need no transport: one connection runs every
 * statement on this thread, and the change feed delivers them as each call returns. What it
 * cannot see that way is a commit by another connection to the same file (the CLI, a second
 * process), so it polls `PRAGMA data_version`, which moves only when someone else commits,
 * and reports a change (listeners resync). A file that cannot be read is reported as down
 * until it can again.
 */
export class SqliteFeedTransport implements FeedTransport {
  readonly echoesOwnMessages = false;
  private timer: NodeJS.Timeout | null = null;
  private dataVersion: number | null = null;
  private failing = false;

  /**
   * `readDataVersion` reads `PRAGMA data_version` (it throws when the file is unusable);
   * `pollMs` is the time between two reads, so the longest a commit by another process goes
   * unseen.
   */
  constructor(
    private readonly readDataVersion: () => number,
    private readonly pollMs: number,
  ) {}

  start(sink: TransportSink): void {
    this.dataVersion = this.read(sink);
    queueMicrotask(() => {
      if (!this.failing) sink.up();
    });
    this.timer = setInterval(() => this.poll(sink), this.pollMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private poll(sink: TransportSink): void {
    const wasFailing = this.failing;
    const version = this.read(sink);
    if (version === null) return;
    if (wasFailing) {
      this.dataVersion = version;
      sink.up();
    } else if (version !== this.dataVersion) {
      this.dataVersion = version;
      sink.changed();
    }
  }

  private read(sink: TransportSink): number | null {
    try {
      const version = this.readDataVersion();
      this.failing = false;
      return version;
    } catch {
      if (!this.failing) sink.down();
      this.failing = true;
      return null;
    }
  }
}
