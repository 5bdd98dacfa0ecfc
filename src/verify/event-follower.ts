import { backoffDelay } from '../backoff.js';

/** What the verifier reads from `GET /api/admin/events`. */
export interface StreamHandlers {
  snapshot(version: number, revoked: string[]): void;
  revoked(jti: string): void;
  version(version: number): void;
  /** The stream ended or failed: events may be missed until the next snapshot. */
  down(error: unknown): void;
}

/** The wait before trying again after Tessera refused the API key (or throttled it). */
const REFUSED_RETRY_MS = 60_000;

/** Tessera answered the stream's request with an error status (401, 403: the API key). */
export class StreamRefusedError extends Error {
  override readonly name = 'StreamRefusedError';
  constructor(readonly status: number) {
    super(
      `Tessera refused the event stream (${status})${status === 401 || status === 403 ? ': check the API key and its sessions:read scope' : ''}`,
    );
  }
}

export interface EventFollowerOptions {
  url: string;
  apiKey: string;
  fetch: typeof globalThis.fetch;
  handlers: StreamHandlers;
  /** No byte for this long (the server sends a keepalive every 15 s): the stream is dead. */
  silenceMs: number;
  firstRetryMs: number;
  maxRetryMs: number;
}

/**
 * Follows Tessera's event stream, reconnecting with backoff for as long as it runs. A silent
 * connection counts as lost: a peer that vanished without closing the socket must not leave
 * the verifier trusting a stream that no longer brings revocations.
 */
export class EventFollower {
  private abort: AbortController | null = null;
  private retry: NodeJS.Timeout | null = null;
  private attempt = 0;
  private stopped = false;

  constructor(private readonly options: EventFollowerOptions) {}

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.abort?.abort();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const abort = new AbortController();
    this.abort = abort;
    let watchdog: NodeJS.Timeout | null = null;
    const heard = () => {
      if (watchdog !== null) clearTimeout(watchdog);
      watchdog = setTimeout(
        () => abort.abort(new Error('the event stream fell silent')),
        this.options.silenceMs,
      );
      watchdog.unref();
    };
    let failure: unknown = new Error('the event stream ended');
    try {
      heard();
      const response = await this.options.fetch(`${this.options.url}/api/admin/events`, {
        headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        throw new StreamRefusedError(response.status);
      }
      await this.read(response.body, heard);
    } catch (error) {
      failure = abort.signal.aborted && abort.signal.reason !== undefined ? abort.signal.reason : error;
    } finally {
      if (watchdog !== null) clearTimeout(watchdog);
    }
    if (this.stopped) return;
    this.options.handlers.down(failure);
    // A refused key is counted by Tessera's throttle: retrying it fast would lock the address out.
    const refused = failure instanceof StreamRefusedError && [401, 403, 429].includes(failure.status);
    const delay = refused
      ? REFUSED_RETRY_MS
      : backoffDelay(++this.attempt, this.options.firstRetryMs, this.options.maxRetryMs);
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }

  private async read(body: ReadableStream<Uint8Array>, heard: () => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      heard();
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        this.receive(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  /** One frame: `id:`, `event:` and a one-line JSON `data:`; comments (keepalives) are skipped. */
  private receive(frame: string): void {
    let event = '';
    let data = '';
    for (const line of frame.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    if (event === '' || data === '') return;
    const payload = JSON.parse(data) as Record<string, unknown>;
    const { handlers } = this.options;
    if (event === 'snapshot') {
      const { version, revoked } = payload;
      if (!Number.isInteger(version) || !Array.isArray(revoked)) throw new Error('malformed snapshot event');
      this.attempt = 0;
      handlers.snapshot(version as number, revoked.map(String));
    } else if (event === 'session.revoked') handlers.revoked(String(payload.jti));
    else if (event === 'sessions.version') handlers.version(Number(payload.version));
  }
}
