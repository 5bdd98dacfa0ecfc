import { describeMetrics } from './metrics-api.js';
import { probePostgres, recycledPostgresSchemas } from './support/postgres.js';
import { freshRedisStore, probeRedis } from './support/redis.js';
import { describeWithService, TEST_REDIS_URL } from './support/services.js';

await describeWithService('PostgreSQL', probePostgres, 'metrics on Postgres', () => {
  describeMetrics('GET /metrics on Postgres', recycledPostgresSchemas());
});

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'metrics on Redis',
  () => {
    describeMetrics('GET /metrics on Redis', () => freshRedisStore(TEST_REDIS_URL));
  },
);
