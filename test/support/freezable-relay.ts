import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay placed between a store and its real server (Postgres, Redis), to make
 * the server stall or go down without touching it. Listens on 127.0.0.1 only and relays only
 * to a loopback target.
 */
export interface FreezableRelay {
  /** The target's URL with the relay's address in place of the server's. */
  readonly url: string;
  /**
   * Stops moving bytes, both ways, without closing anything: a server that accepts connections
   * and never answers. `'all'` (the default) freezes every connection, open or opened later;
   * `'open'` only those open now, as when a NAT forgets them (new connections flow).
   * Bytes held back are delivered on `resume()`, as TCP does once a stalled path heals.
   */
  freeze(scope?: 'all' | 'open'): void;
  /** A server that went down: every connection is reset, and so is each new one, at once. */
  cut(): void;
  /** Moves bytes again (held-back ones first) and relays new connections normally. */
  resume(): void;
  /** Connections accepted and not yet closed. */
  readonly openConnections: number;
  /** Closes the listener and destroys every connection; closing again does nothing. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

interface Pair {
  downstream: Socket;
  upstream: Socket;
  frozen: boolean;
}

/** Forwards `from`'s bytes to `to`, pausing on backpressure; ends and errors travel along. */
function forward(from: Socket, to: Socket, pair: Pair): void {
  from.on('data', (chunk: Buffer) => {
    if (to.write(chunk)) return;
    from.pause();
    to.once('drain', () => {
      if (!pair.frozen) from.resume();
    });
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
  from.on('close', (hadError) => {
    if (hadError) to.destroy();
  });
}

/** Starts a relay to `targetUrl` (a `postgres://` or `redis://` URL on a loopback host). */
export async function freezableRelay(targetUrl: string): Promise<FreezableRelay> {
  const target = new URL(targetUrl);
  if (!LOOPBACK.has(target.hostname)) throw new Error(`freezableRelay: ${target.hostname} is not loopback`);
  const targetPort = Number(target.port || (target.protocol === 'redis:' ? 6379 : 5432));
  const pairs = new Set<Pair>();
  let mode: 'flow' | 'frozen' | 'cut' = 'flow';

  const setFrozen = (pair: Pair, frozen: boolean) => {
    pair.frozen = frozen;
    for (const socket of [pair.downstream, pair.upstream]) {
      if (frozen) socket.pause();
      else socket.resume();
    }
  };

  // pauseOnConnect: no byte is read from a new connection before its mode is decided.
  const server: Server = createServer({ pauseOnConnect: true }, (downstream) => {
    if (mode === 'cut') {
      downstream.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, target.hostname);
    upstream.pause();
    const pair: Pair = { downstream, upstream, frozen: true };
    pairs.add(pair);
    downstream.once('close', () => pairs.delete(pair));
    forward(downstream, upstream, pair);
    forward(upstream, downstream, pair);
    setFrozen(pair, mode === 'frozen');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  const url = new URL(targetUrl);
  url.host = `127.0.0.1:${port}`;
  let closing: Promise<void> | null = null;

  return {
    url: url.toString(),
    freeze(scope = 'all') {
      if (scope === 'all') mode = 'frozen';
      for (const pair of pairs) setFrozen(pair, true);
    },
    cut() {
      mode = 'cut';
      for (const pair of pairs) {
        pair.downstream.resetAndDestroy();
        pair.upstream.resetAndDestroy();
      }
    },
    resume() {
      mode = 'flow';
      for (const pair of pairs) setFrozen(pair, false);
    },
    get openConnections() {
      return pairs.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const pair of pairs) {
          pair.downstream.destroy();
          pair.upstream.destroy();
        }
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
