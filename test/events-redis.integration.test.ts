import { afterEach } from 'vitest';
import { sharedDeployment, sharedInstances } from './events/shared-instances.js';
import { describeEventStream } from './events/suite.js';
import { probeRedis } from './support/redis.js';
import { describeWithService, TEST_REDIS_URL } from './support/services.js';
import { redisData, type SharedData } from './support/shared-data.js';
import { describeVerifier } from './verify/suite.js';

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'event stream on Redis',
  () => {
    let data: SharedData | null = null;
    afterEach(async () => {
      await data?.cleanup();
      data = null;
    });
    describeEventStream('Redis, two instances', (startApp, options) => {
      data = redisData(TEST_REDIS_URL, [TEST_REDIS_URL], false);
      return sharedInstances(data, startApp, options);
    });
    describeVerifier('Redis', (startApp) => {
      data = redisData(TEST_REDIS_URL, [TEST_REDIS_URL], false);
      return sharedDeployment(data, startApp);
    });
  },
);
