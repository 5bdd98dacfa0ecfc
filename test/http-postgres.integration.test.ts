import { describeAdminApi } from './admin-api.js';
import { describeStorageApi } from './storage-api.js';
import { probePostgres, recycledPostgresSchemas } from './support/postgres.js';
import { describeWithService } from './support/services.js';

await describeWithService('PostgreSQL', probePostgres, 'HTTP contracts on Postgres', () => {
  // A schema per test costs ~150 ms to create and drop; a recycled one is reset in one round trip.
  const freshStore = recycledPostgresSchemas();
  describeAdminApi('admin session API on Postgres', freshStore);
  describeAdminApi('admin session API on Postgres, strict session checks', freshStore, {
    config: { sessionCheck: 'strict' },
  });
  describeStorageApi('Postgres', freshStore);
});
