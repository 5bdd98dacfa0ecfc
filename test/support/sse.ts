import { waitUntil } from './wait.js';

/** One Server-Sent Event as a client sees it. */
export interface ReceivedEvent {
  id: string | null;
  event: string;
  data: unknown;
}

/**
 * A client of `GET /api/admin/events` over a real connection: it records every event and
 * comment as it comes, and knows when the server ended the stream.
 */
export class SseClient {
  readonly events: ReceivedEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly abort = new AbortController();

  private constructor(readonly response: Response) {}

  /** Connects; the response is returned whatever its status (read `status` before `events`). */
  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    const client = new SseClient(response);
    client.abort.signal.addEventListener('abort', () => abort.abort());
    if (response.ok && response.body !== null) void client.read(response.body);
    else client.ended = true;
    return client;
  }

  get status(): number {
    return this.response.status;
  }

  /** The first event named `event` that `match` accepts, once it has come. */
  waitFor<T = unknown>(event: string, match: (data: T) => boolean = () => true): Promise<ReceivedEvent> {
    return waitUntil(`the ${event} event`, () =>
      this.events.find((received) => received.event === event && match(received.data as T)),
    );
  }

  /** Resolves once the server has ended the stream. */
  async waitEnded(): Promise<void> {
    await waitUntil('the end of the stream', () => this.ended);
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close(), or the connection died: either way the stream is over.
    }
    this.ended = true;
  }

  private parse(frame: string): void {
    let id: string | null = null;
    let event = 'message';
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ id, event, data: JSON.parse(data.join('\n')) });
  }
}
