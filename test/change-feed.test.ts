import { describe, expect, it } from 'vitest';
import { ChangeFeed } from '../src/store/feed/change-feed.js';
import type { FeedTransport, TransportSink } from '../src/store/feed/transport.js';
import type { FeedEvent, FeedListener } from '../src/store/types.js';

/** A transport driven by hand: the test plays the wire. */
class ScriptedTransport implements FeedTransport {
  sink: TransportSink | null = null;
  starts = 0;
  closed = false;
  constructor(readonly echoesOwnMessages: boolean) {}
  start(sink: TransportSink): void {
    this.starts++;
    this.sink = sink;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** Sends a message as every backend writes it. */
  send(id: string | null, event: FeedEvent): void {
    this.sink?.message(JSON.stringify({ id, e: event }));
  }
}

class Recorder implements FeedListener {
  readonly calls: string[] = [];
  event(event: FeedEvent): void {
    this.calls.push(`event:${JSON.stringify(event)}`);
  }
  up(): void {
    this.calls.push('up');
  }
  down(): void {
    this.calls.push('down');
  }
  get events(): string[] {
    return this.calls.filter((call) => call.startsWith('event:'));
  }
}

const version = (v: number): FeedEvent => ({ type: 'version', version: v });

function liveFeed(echoes = true) {
  const transport = new ScriptedTransport(echoes);
  const feed = new ChangeFeed(transport);
  const listener = new Recorder();
  feed.subscribe(listener);
  transport.sink?.up();
  return { transport, feed, listener };
}

/** A statement whose reply the test releases by hand, after (or before) playing its copy. */
function pendingStatement() {
  let release: () => void = () => {};
  let statementId = '';
  const reply = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    run: (id: string) => {
      statementId = id;
      return reply;
    },
    get id() {
      return statementId;
    },
    release: () => release(),
  };
}

describe('ChangeFeed', () => {
  it('starts the transport on the first subscription only', () => {
    const transport = new ScriptedTransport(true);
    const feed = new ChangeFeed(transport);
    feed.subscribe(new Recorder());
    feed.subscribe(new Recorder());
    expect(transport.starts).toBe(1);
  });

  it('delivers an own event before publishing resolves, and drops its copy when it comes later', async () => {
    const { transport, feed, listener } = liveFeed();
    let id = '';
    await feed.publishing(
      async (statementId) => {
        id = statementId;
      },
      (_reply, statementId) => [{ id: statementId, event: version(2) }],
    );
    expect(listener.events).toEqual([`event:${JSON.stringify(version(2))}`]);
    transport.send(id, version(2));
    expect(listener.events).toHaveLength(1);
  });

  it('delivers an own event from its copy when the copy beats the reply, and not again from the reply', async () => {
    const { transport, feed, listener } = liveFeed();
    const statement = pendingStatement();
    const done = feed.publishing(statement.run, (_reply, id) => [{ id, event: version(3) }]);
    transport.send(statement.id, version(3));
    expect(listener.events).toHaveLength(1);
    statement.release();
    await done;
    expect(listener.events).toHaveLength(1);
  });

  it('matches chunked copies (`<id>#<n>`) to their statement', async () => {
    const { transport, feed, listener } = liveFeed();
    const statement = pendingStatement();
    const revoked = (jti: string): FeedEvent => ({ type: 'revoked', jtis: [jti] });
    const done = feed.publishing(statement.run, (_reply, id) => [
      { id: `${id}#0`, event: revoked('a') },
      { id: `${id}#1`, event: revoked('b') },
    ]);
    transport.send(`${statement.id}#1`, revoked('b'));
    statement.release();
    await done;
    transport.send(`${statement.id}#0`, revoked('a'));
    expect(listener.events).toEqual([
      `event:${JSON.stringify(revoked('b'))}`,
      `event:${JSON.stringify(revoked('a'))}`,
    ]);
  });

  it('delivers the copy of a statement that failed (it may have committed): never a missed revocation', async () => {
    const { transport, feed, listener } = liveFeed();
    let id = '';
    await expect(
      feed.publishing(
        async (statementId) => {
          id = statementId;
          throw new Error('reply lost');
        },
        () => [],
      ),
    ).rejects.toThrow('reply lost');
    transport.send(id, version(4));
    expect(listener.events).toEqual([`event:${JSON.stringify(version(4))}`]);
  });

  it('delivers events of other instances, and ignores messages that are not ours', () => {
    const { transport, listener } = liveFeed();
    transport.send('another-origin:1', version(5));
    transport.sink?.message('not json');
    transport.sink?.message(JSON.stringify({ id: 'x', e: { type: 'revoked', jtis: [] } }));
    transport.sink?.message(JSON.stringify({ type: 'version', version: 6 }));
    expect(listener.events).toEqual([`event:${JSON.stringify(version(5))}`]);
  });

  it('after a lost connection, a late copy of an own event counts as new (nothing is awaited any more)', async () => {
    const { transport, feed, listener } = liveFeed();
    let id = '';
    await feed.publishing(
      async (statementId) => {
        id = statementId;
      },
      (_reply, statementId) => [{ id: statementId, event: version(7) }],
    );
    transport.sink?.down();
    transport.sink?.up();
    transport.send(id, version(7));
    expect(listener.events).toHaveLength(2);
    expect(listener.calls.filter((call) => !call.startsWith('event:'))).toEqual(['up', 'down', 'up']);
  });

  it('does not wait for copies from a transport that does not echo (and so remembers none)', async () => {
    const { transport, feed, listener } = liveFeed(false);
    let id = '';
    await feed.publishing(
      async (statementId) => {
        id = statementId;
      },
      (_reply, statementId) => [{ id: statementId, event: version(8) }],
    );
    // Were it remembered, this would be dropped.
    transport.send(id, version(8));
    expect(listener.events).toHaveLength(2);
  });

  it('a listener that throws is reported and does not stop the others', async () => {
    const errors: unknown[] = [];
    const transport = new ScriptedTransport(true);
    const feed = new ChangeFeed(transport, { onListenerError: (error) => errors.push(error) });
    const kept = new Recorder();
    feed.subscribe({
      event: () => {
        throw new Error('boom');
      },
      up: () => {
        throw new Error('boom on up');
      },
      down: () => {},
    });
    feed.subscribe(kept);
    transport.sink?.up();
    transport.send('other:1', version(9));
    expect(kept.calls).toEqual(['up', `event:${JSON.stringify(version(9))}`]);
    expect(errors.map((error) => (error as Error).message)).toEqual(['boom on up', 'boom']);
  });

  it('changed() makes live listeners resync (down, then up); up and down are reported once per change', () => {
    const { transport, listener } = liveFeed();
    transport.sink?.up();
    transport.sink?.changed();
    transport.sink?.down();
    transport.sink?.down();
    transport.sink?.changed();
    expect(listener.calls).toEqual(['up', 'down', 'up', 'down']);
  });

  it('a listener that subscribes to a live feed hears up() on its own', async () => {
    const { feed } = liveFeed();
    const late = new Recorder();
    feed.subscribe(late);
    await Promise.resolve();
    expect(late.calls).toEqual(['up']);
  });

  it('close() tells live listeners down(), closes the transport, and delivers nothing more', async () => {
    const { transport, feed, listener } = liveFeed();
    await feed.close();
    transport.send('other:1', version(10));
    transport.sink?.up();
    expect(listener.calls).toEqual(['up', 'down']);
    expect(transport.closed).toBe(true);
  });

  it('after unsubscribe a listener gets nothing more', () => {
    const transport = new ScriptedTransport(true);
    const feed = new ChangeFeed(transport);
    const listener = new Recorder();
    const unsubscribe = feed.subscribe(listener);
    transport.sink?.up();
    unsubscribe();
    transport.send('other:1', version(11));
    expect(listener.calls).toEqual(['up']);
  });
});
