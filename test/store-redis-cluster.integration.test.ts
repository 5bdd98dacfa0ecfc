import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import type { RedisBackendConfig } from '../src/store/redis/connection.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import { TurnWrites } from '../src/store/redis/turn-writes.js';
import type { FeedEvent } from '../src/store/types.js';
import { newSession, RecordingListener } from './store-contract/support.js';
import { describeStoreContract } from './store-contract.js';
import { deleteKeys, redisFixture, testRedisConfig } from './support/redis.js';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.js';
import { describeWithService, uniqueName } from './support/services.js';
import { T0 } from './support/time.js';
import { waitUntil, withDeadline } from './support/wait.js';

let cluster: RedisCluster | null = null;

/** A reconnect, awaited: a try failing as unavailable is tried again; any other failure fails the test. */
const RECONNECT = {
  timeoutMs: 20_000,
  intervalMs: 50,
  retryOn: (error: unknown) => error instanceof StoreUnavailableError,
};
const running = () => {
  if (cluster === null) throw new Error('the Redis Cluster is not running');
  return cluster;
};

/** The port of the node a connection named `name` is connected to, if any. */
async function nodeOfClient(ports: number[], name: string): Promise<number | undefined> {
  for (const port of ports) {
    const admin = new Redis({ port, host: '127.0.0.1' });
    try {
      if (((await admin.client('LIST')) as string).includes(` name=${name} `)) return port;
    } finally {
      admin.disconnect();
    }
  }
  return undefined;
}

await describeWithService(
  'Redis Cluster (redis-server and redis-cli on PATH)',
  async () => {
    cluster = await startRedisCluster();
  },
  'RedisStore on a Redis Cluster',
  () => {
    afterAll(async () => cluster?.stop());

    describeStoreContract('Redis Cluster', () => redisFixture(running().url, true)(), {
      crossInstanceFeed: 'events',
    });

    describe('Redis Cluster specifics', () => {
      const opened: { store: RedisStore; config: RedisBackendConfig }[] = [];
      const open = async (config = testRedisConfig(running().url, true)) => {
        const store = new RedisStore(config);
        await store.migrate();
        opened.push({ store, config });
        return { store, config };
      };
      afterEach(async () => {
        for (const { store, config } of opened.splice(0)) {
          await store.close();
          await deleteKeys(config).catch(() => undefined);
        }
      });

      /** Opens stores until one's feed is subscribed on a node that `wanted` accepts. */
      const openWithFeedOn = async (wanted: (port: number) => boolean) => {
        // Each store subscribes on a node picked at random, so a few tries find any node.
        for (let attempt = 0; attempt < 30; attempt++) {
          const { store, config } = await open();
          const listener = new RecordingListener();
          store.subscribe(listener);
          await listener.waitUp();
          const feedNode = await nodeOfClient(running().ports, `${config.prefix}feed`);
          if (feedNode === undefined) throw new Error('no feed connection found on any node');
          if (wanted(feedNode)) return { store, config, listener };
        }
        throw new Error('30 stores in a row subscribed on the wrong node');
      };

      it('the feed hears events published on another node (the cluster bus forwards them)', async () => {
        const owner = await running().ownerOf('{tessera}');
        const { config, listener } = await openWithFeedOn((port) => port !== owner);
        const other = new RedisStore(config);
        opened.push({ store: other, config });
        const version = await other.bumpSessionVersion();
        await listener.waitForEvent('a bump published on the owner node', (e) => {
          return e.type === 'version' && e.version === version;
        });
      });

      it('a change whose reply was lost (caller saw "unavailable") still reaches this instance’s listeners', async () => {
        const config = testRedisConfig(running().url, true);
        const store = new RedisStore(config, { commandTimeoutMs: 200 });
        opened.push({ store, config });
        await store.migrate();
        const listener = new RecordingListener();
        store.subscribe(listener);
        await listener.waitUp();
        await store.createSession(newSession('s0'));
        await store.createSession(newSession('s1'));
        // Loads the revoke script on the node (a paused EVALSHA of an unknown script would
        // only come back NOSCRIPT and never run).
        expect(await store.revokeSession('s0', T0)).toBe(true);
        const before = [...listener.events];
        const admin = new Redis({ host: '127.0.0.1', port: await running().ownerOf('{tessera}') });
        try {
          // Holds the script past the client's reply deadline; it runs when the pause ends.
          await admin.client('PAUSE', 1000, 'WRITE');
          await expect(store.revokeSession('s1', T0)).rejects.toBeInstanceOf(StoreUnavailableError);
          expect(listener.events).toEqual(before);
          const revokedS1 = (e: FeedEvent) => e.type === 'revoked' && e.jtis.includes('s1');
          await listener.waitForEvent('the revocation of s1, over pub/sub', revokedS1);
          expect(listener.events).toEqual([...before, { type: 'revoked', jtis: ['s1'] }]);
          expect((await store.findSession('s1'))?.revokedAtMs).toBe(T0);
        } finally {
          await admin.client('UNPAUSE');
          admin.disconnect();
        }
      });

      it('with the node holding its slot down, requests fail fast as unavailable; all recovers by itself', async () => {
        const owner = await running().ownerOf('{tessera}');
        // The feed on the very node that goes down: it must say so, then move on.
        const { store, config, listener } = await openWithFeedOn((port) => port === owner);
        const other = new RedisStore(config);
        opened.push({ store: other, config });
        await store.createSession(newSession('s1'));

        await running().killNode(owner);
        await expect(
          withDeadline(store.findSession('s1'), 3000, 'a read with its node down to fail'),
        ).rejects.toBeInstanceOf(StoreUnavailableError);
        await waitUntil('the feed to go down', () => listener.downs === 1);
        // After a few failed reconnects the feed subscribes on another node.
        await waitUntil('the feed to come up on another node', () => listener.ups === 2, {
          timeoutMs: 15_000,
        });

        await running().restartNode(owner);
        // The restarted node comes back empty (no persistence): a missing version reads as 1.
        // Both clients reconnect on their own; until then they answer "unavailable".
        expect(await waitUntil('the store to reconnect', () => store.getSessionVersion(), RECONNECT)).toBe(1);
        await waitUntil('the other store to reconnect', () => other.getSessionVersion(), RECONNECT);
        await store.createSession(newSession('s2'));
        expect(await store.revokeSession('s2', T0)).toBe(true);
        const version = await other.bumpSessionVersion();
        await listener.waitForEvent(
          'the bump after recovery',
          (e) => e.type === 'version' && e.version === version,
        );
        expect(await nodeOfClient(running().ports, `${config.prefix}feed`)).not.toBe(owner);
      });
      it("TurnWrites holds every master's socket for the turn; the commands are answered", async () => {
        const client = new Cluster([{ host: '127.0.0.1', port: running().ports[0] ?? 0 }]);
        try {
          await client.ping();
          const masters = client.nodes('master');
          // A master's connection is made on its first command.
          await Promise.all(masters.map((node) => node.ping()));
          expect(masters.length).toBeGreaterThan(1);
          new TurnWrites(client).hold();
          expect(masters.map((node) => node.stream.writableCorked)).toEqual(masters.map(() => 1));
          const key = `${uniqueName('turn_writes')}{tessera}`;
          const replies = await Promise.all([client.set(key, 'held', 'PX', 60_000), client.get(key)]);
          expect(replies).toEqual(['OK', 'held']);
          expect(masters.map((node) => node.stream.writableCorked)).toEqual(masters.map(() => 0));
        } finally {
          client.disconnect();
        }
      });
    });
  },
);
