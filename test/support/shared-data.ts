import { expect } from 'vitest';
import type { RedisBackendConfig } from '../../src/store/redis/connection.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/types.js';
import { dropSchema, listenBackends, openPostgresStore, terminateBackend } from './postgres.js';
import { deleteKeys, killRedisClient, redisClientIds, testRedisConfig } from './redis.js';
import { uniqueName } from './services.js';

/** One schema / key prefix that several stores open, as the instances of one deployment do. */
export interface SharedData {
  /** A new store instance on the data (not migrated: the test app does that). */
  open(): Store;
  /** The feed connections open on the server for this data, one per subscribed store. */
  feedConnections(): Promise<string[]>;
  /** Kills one of them, as a lost network would. */
  killConnection(connection: string): Promise<void>;
  /** Removes the data; runs after every store on it is closed. */
  cleanup(): Promise<void>;
}

export function postgresData(): SharedData {
  const schema = uniqueName('tessera_propagation');
  return {
    open: () => openPostgresStore(schema),
    feedConnections: async () => (await listenBackends(schema)).map(String),
    async killConnection(pid) {
      expect(await terminateBackend(Number(pid))).toBe(true);
    },
    cleanup: () => dropSchema(schema),
  };
}

/** `nodes`: the standalone server, or every node of a cluster (a feed subscribes on one of them). */
export function redisData(url: string, nodes: string[], cluster: boolean): SharedData {
  const config: RedisBackendConfig = testRedisConfig(url, cluster);
  const feedName = `${config.prefix}feed`;
  return {
    open: () => new RedisStore(config),
    async feedConnections() {
      const perNode = await Promise.all(
        nodes.map(async (node) => (await redisClientIds(node, feedName)).map((id) => `${node} ${id}`)),
      );
      return perNode.flat();
    },
    async killConnection(connection) {
      const [node = '', id = ''] = connection.split(' ');
      expect(await killRedisClient(node, id)).toBe(true);
    },
    cleanup: () => deleteKeys(config),
  };
}
