import { describeAdminApi } from './admin-api.js';
import { describeStorageApi } from './storage-api.js';
import { freshRedisStore, probeRedis } from './support/redis.js';
import { describeWithService, TEST_REDIS_URL } from './support/services.js';

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'HTTP contracts on Redis',
  () => {
    // A prefix per test: nothing to create, and its keys are deleted when the store closes.
    const freshStore = () => freshRedisStore(TEST_REDIS_URL);
    describeAdminApi('admin session API on Redis', freshStore);
    describeAdminApi('admin session API on Redis, strict session checks', freshStore, {
      config: { sessionCheck: 'strict' },
    });
    describeStorageApi('Redis', freshStore);
  },
);
