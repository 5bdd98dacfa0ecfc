import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { TurnWrites } from '../src/store/redis/turn-writes.js';
import { probeRedis } from './support/redis.js';
import { describeWithService, TEST_REDIS_URL, uniqueName } from './support/services.js';
import { countWrites } from './support/socket-writes.js';

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'TurnWrites',
  () => {
    const clients: Redis[] = [];
    const connected = async () => {
      const client = new Redis(TEST_REDIS_URL);
      clients.push(client);
      await client.ping();
      return client;
    };
    afterEach(() => {
      for (const client of clients.splice(0)) client.disconnect();
    });

    /** Ten commands issued in one turn: five SETs and five GETs of keys of this test's own. */
    const tenCommands = (client: Redis, prefix: string) => {
      const sets = [0, 1, 2, 3, 4].map((n) => client.set(`${prefix}:${n}`, `value-${n}`, 'PX', 60_000));
      const gets = [0, 1, 2, 3, 4].map((n) => client.get(`${prefix}:${n}`));
      return Promise.all([...sets, ...gets]);
    };

    it('sends the commands of one turn in one socket write, each with its own reply', async () => {
      const client = await connected();
      const counts = countWrites(client.stream as Socket);
      new TurnWrites(client).hold();
      const replies = await tenCommands(client, uniqueName('turn_writes'));
      expect(counts).toEqual({ writes: 1, chunks: 10 });
      expect(replies).toEqual([
        ...Array(5).fill('OK'),
        'value-0',
        'value-1',
        'value-2',
        'value-3',
        'value-4',
      ]);
    });

    it('without a hold, the same commands leave one write each (what the hold saves)', async () => {
      const client = await connected();
      const counts = countWrites(client.stream as Socket);
      await tenCommands(client, uniqueName('turn_writes'));
      expect(counts.writes).toBeGreaterThan(1);
      expect(counts.chunks).toBe(10);
    });

    it('holds once per turn, and lets go when the turn ends', async () => {
      const client = await connected();
      const writes = new TurnWrites(client);
      const stream = client.stream as Socket;
      writes.hold();
      writes.hold();
      expect(stream.writableCorked).toBe(1);
      const reply = client.ping();
      expect(stream.writableLength).toBeGreaterThan(0);
      expect(await reply).toBe('PONG');
      expect(stream.writableCorked).toBe(0);
      // The next turn is held again, and its command is answered too.
      writes.hold();
      expect(stream.writableCorked).toBe(1);
      expect(await client.ping()).toBe('PONG');
      expect(stream.writableCorked).toBe(0);
    });

    it('does nothing before the client has a socket, and the command still goes out', async () => {
      const client = new Redis(TEST_REDIS_URL, { lazyConnect: true });
      clients.push(client);
      new TurnWrites(client).hold();
      expect(await client.ping()).toBe('PONG');
      // The socket made by that first command is not left corked.
      expect((client.stream as Socket).writableCorked).toBe(0);
    });

    it('a connection lost while held leaves nothing hanging, and the new connection is held in turn', async () => {
      const client = await connected();
      const writes = new TurnWrites(client);
      writes.hold();
      const sent = client.ping();
      const reconnected = new Promise<void>((resolve) => client.once('ready', () => resolve()));
      (client.stream as Socket).destroy();
      // ioredis sends an unanswered command again once it has reconnected.
      expect(await sent).toBe('PONG');
      await reconnected;
      const stream = client.stream as Socket;
      const counts = countWrites(stream);
      writes.hold();
      expect(stream.writableCorked).toBe(1);
      expect(await Promise.all([client.ping(), client.ping()])).toEqual(['PONG', 'PONG']);
      expect(counts).toEqual({ writes: 1, chunks: 2 });
    });
  },
);
