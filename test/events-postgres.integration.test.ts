import { afterEach } from 'vitest';
import { sharedDeployment, sharedInstances } from './events/shared-instances.js';
import { describeEventStream } from './events/suite.js';
import { probePostgres } from './support/postgres.js';
import { describeWithService } from './support/services.js';
import { postgresData, type SharedData } from './support/shared-data.js';
import { describeVerifier } from './verify/suite.js';

await describeWithService('PostgreSQL', probePostgres, 'event stream on Postgres', () => {
  let data: SharedData | null = null;
  afterEach(async () => {
    await data?.cleanup();
    data = null;
  });
  describeEventStream('Postgres, two instances', (startApp, options) => {
    data = postgresData();
    return sharedInstances(data, startApp, options);
  });
  describeVerifier('Postgres', (startApp) => {
    data = postgresData();
    return sharedDeployment(data, startApp);
  });
});
