import { describeAdminApi } from './admin-api.js';

describeAdminApi('admin session API on SQLite');
describeAdminApi('admin session API on SQLite, strict session checks', undefined, {
  config: { sessionCheck: 'strict' },
});
