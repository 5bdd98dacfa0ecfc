import { describeStorageApi } from './storage-api.js';

describeStorageApi('SQLite');
