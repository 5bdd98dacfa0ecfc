import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { StoreMismatchError } from '../src/errors.js';
import { quoteIdentifier } from '../src/store/postgres/migrations.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import type { Store } from '../src/store/types.js';
import { adminQuery, dropSchema, openPostgresStore, probePostgres } from './support/postgres.js';
import { deleteKeys, probeRedis, testRedisConfig } from './support/redis.js';
import { describeWithService, TEST_REDIS_URL, uniqueName } from './support/services.js';

/**
 * Data written by a newer Tessera (or keys that are not Tessera's) is refused at start-up with
 * a message saying what to do: never migrated over, never retried as if the store were down.
 */
const opened: Store[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

await describeWithService('PostgreSQL', probePostgres, 'store mismatch: Postgres', () => {
  it('migrate: a schema at a later migration than this version knows is a StoreMismatchError naming it', async () => {
    const schema = uniqueName('tessera_mismatch');
    cleanups.push(() => dropSchema(schema));
    const first = openPostgresStore(schema);
    opened.push(first);
    await first.migrate();
    await adminQuery(
      `INSERT INTO ${quoteIdentifier(schema)}.schema_migrations (version) SELECT MAX(version) + 1 FROM ${quoteIdentifier(schema)}.schema_migrations`,
    );
    const later = openPostgresStore(schema);
    opened.push(later);
    const refused = later.migrate();
    await expect(refused).rejects.toBeInstanceOf(StoreMismatchError);
    await expect(refused).rejects.toThrow(`the postgres schema "${schema}" is at migration`);
    await expect(refused).rejects.toThrow('set DATABASE_SCHEMA');
  });
});

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'store mismatch: Redis',
  () => {
    for (const [what, layout] of [
      ['a later key layout', '3'],
      ['keys that are not a Tessera layout', 'not-a-number'],
    ] as const) {
      it(`migrate: a prefix holding ${what} is a StoreMismatchError naming the prefix`, async () => {
        const config = testRedisConfig(TEST_REDIS_URL, false);
        cleanups.push(() => deleteKeys(config));
        const raw = new Redis(TEST_REDIS_URL);
        try {
          await raw.set(`${config.prefix}{tessera}:schema`, layout);
        } finally {
          raw.disconnect();
        }
        const store = new RedisStore(config);
        opened.push(store);
        const refused = store.migrate();
        await expect(refused).rejects.toBeInstanceOf(StoreMismatchError);
        await expect(refused).rejects.toThrow(
          `the redis store under prefix ${JSON.stringify(config.prefix)} has key layout "${layout}"`,
        );
        await expect(refused).rejects.toThrow('set REDIS_PREFIX');
      });
    }
  },
);
