import { Cluster, Redis } from 'ioredis';
import type { RedisBackendConfig } from '../../src/store/redis/connection.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/types.js';
import type { StoreFixture } from '../store-contract.js';
import { disposableStore } from './disposable-store.js';
import { uniqueName } from './services.js';

/** Connects once, without retrying, and pings: the `describeWithService` probe. */
export async function probeRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

/** A config with a prefix of its own, so runs never see each other's keys. */
export const testRedisConfig = (url: string, cluster: boolean): RedisBackendConfig => ({
  kind: 'redis',
  url,
  prefix: `${uniqueName('tessera_test')}:`,
  cluster,
});

/** A plain client (not the store's) for looking at and cleaning up raw keys. */
async function rawClient(config: RedisBackendConfig): Promise<{ nodes: Redis[]; close(): void }> {
  if (!config.cluster) {
    const client = new Redis(config.url);
    return { nodes: [client], close: () => client.disconnect() };
  }
  const { hostname, port } = new URL(config.url);
  const cluster = new Cluster([{ host: hostname, port: Number(port) }]);
  await cluster.ping();
  return { nodes: cluster.nodes('master'), close: () => cluster.disconnect() };
}

/**
 * Runs `visit` on every key under the config's prefix, with the master that holds it. SCAN is
 * fine in tests; the store itself never scans.
 */
async function eachKey(
  config: RedisBackendConfig,
  visit: (node: Redis, key: string) => Promise<void>,
): Promise<void> {
  const raw = await rawClient(config);
  try {
    const pattern = `${config.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for (const node of raw.nodes) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      for (const key of keys.sort()) await visit(node, key);
    }
  } finally {
    raw.close();
  }
}

export interface RawKey {
  key: string;
  type: string;
  /** Every value the key holds, as bytes: members and scores, fields and values. */
  parts: Buffer[];
  /** PTTL: -1 when the key never expires. */
  ttlMs: number;
}

/** Reads every key under the prefix raw: what the store left on the server. */
export async function dumpKeys(config: RedisBackendConfig): Promise<RawKey[]> {
  const dump: RawKey[] = [];
  await eachKey(config, async (node, key) => {
    const type = await node.type(key);
    // Expired (TTL) between SCAN and TYPE.
    if (type === 'none') return;
    const ttlMs = await node.pttl(key);
    let parts: Buffer[];
    if (type === 'string') parts = [(await node.getBuffer(key)) ?? Buffer.alloc(0)];
    else if (type === 'hash') {
      parts = Object.entries(await node.hgetallBuffer(key)).flatMap(([field, value]) => [
        Buffer.from(field),
        value,
      ]);
    } else if (type === 'zset') parts = await node.zrangeBuffer(key, 0, -1, 'WITHSCORES');
    else if (type === 'set') parts = (await node.smembersBuffer(key)).sort(Buffer.compare);
    else throw new Error(`unexpected ${type} at ${key}`);
    dump.push({ key, type, parts, ttlMs });
  });
  return dump;
}

/** Deletes every key under the prefix. */
export function deleteKeys(config: RedisBackendConfig): Promise<void> {
  return eachKey(config, async (node, key) => {
    await node.unlink(key);
  });
}

/** The contract suite's fixture: a fresh prefix per test, deleted after it. */
export function redisFixture(url: string, cluster: boolean, options: RedisStoreOptions = {}) {
  return async (): Promise<StoreFixture> => {
    const config = testRedisConfig(url, cluster);
    const open = async () => {
      const store = new RedisStore(config, options);
      await store.migrate();
      return store;
    };
    return {
      store: await open(),
      reopen: open,
      cleanup: () => deleteKeys(config),
    };
  };
}

/** The HTTP suites' store factory: a fresh prefix per store, its keys deleted when the store closes. */
export async function freshRedisStore(url: string, cluster = false): Promise<Store> {
  const config = testRedisConfig(url, cluster);
  return disposableStore(new RedisStore(config), () => deleteKeys(config));
}

/** The ids of the connections named `name` (a store names its feed `<prefix>feed`) on one server or node. */
export async function redisClientIds(url: string, name: string): Promise<string[]> {
  const admin = new Redis(url);
  try {
    return ((await admin.client('LIST')) as string)
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /^id=(\d+)/.exec(line)?.[1])
      .filter((id) => id !== undefined);
  } finally {
    admin.disconnect();
  }
}

/** Kills one connection by id, as a lost network would; true when there was one to kill. */
export async function killRedisClient(url: string, id: string): Promise<boolean> {
  const admin = new Redis(url);
  try {
    return (await admin.client('KILL', 'ID', id)) === 1;
  } finally {
    admin.disconnect();
  }
}
