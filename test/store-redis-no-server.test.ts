import { describe, expect, it } from 'vitest';
import { ConfigError, StoreUnavailableError } from '../src/errors.js';
import { parseRedisUrl, type RedisBackendConfig } from '../src/store/redis/connection.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import { withDeadline } from './support/wait.js';

const TIMEOUTS = { connectTimeoutMs: 2000, commandTimeoutMs: 2000 };

describe('Redis URL', () => {
  it('reads credentials, port and database index; redis:// has no TLS', () => {
    const { host, port, options } = parseRedisUrl('redis://app:p%40ss@cache.internal:6380/2', TIMEOUTS);
    expect({ host, port }).toEqual({ host: 'cache.internal', port: 6380 });
    expect(options).toMatchObject({ username: 'app', password: 'p@ss', db: 2 });
    expect(options.tls).toBeUndefined();
  });

  it('rediss:// (Vercel KV, Upstash) turns TLS on, with certificate checks left on', () => {
    const { port, options } = parseRedisUrl('rediss://default:secret@kv.example.com', TIMEOUTS);
    expect(port).toBe(6379);
    expect(options.tls).toEqual({});
    expect(options.db).toBe(0);
  });

  it('fails fast instead of queueing: no offline queue, one retry, reply deadline', () => {
    const { options } = parseRedisUrl('redis://127.0.0.1', TIMEOUTS);
    expect(options).toMatchObject({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      autoResendUnfulfilledCommands: false,
    });
  });

  it('rejects a path that is not a database index, and a database on a cluster', () => {
    expect(() => parseRedisUrl('redis://127.0.0.1/tessera', TIMEOUTS)).toThrow(ConfigError);
    const config: RedisBackendConfig = {
      kind: 'redis',
      url: 'redis://127.0.0.1/3',
      prefix: 't:',
      cluster: true,
    };
    expect(() => new RedisStore(config)).toThrow(ConfigError);
  });
});

describe('RedisStore with no server', () => {
  it('ping on a closed port rejects with StoreUnavailableError within a few seconds, and again at once', async () => {
    const store = new RedisStore({ kind: 'redis', url: 'redis://127.0.0.1:1', prefix: 't:', cluster: false });
    try {
      await expect(withDeadline(store.ping(), 3000, 'ping on a closed port to fail')).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(
        withDeadline(store.getSessionVersion(), 500, 'the next command on the closed port to fail'),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
