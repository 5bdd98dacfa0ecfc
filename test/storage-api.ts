import { describe } from 'vitest';
import { describeCurrent } from './storage-api/current.js';
import { describeEndpoints } from './storage-api/endpoints.js';
import type { StoreFactory } from './storage-api/harness.js';
import { describeListing } from './storage-api/listing.js';
import { describeSealing } from './storage-api/sealing.js';
import { describeValidation } from './storage-api/validation.js';

export type { StoreFactory } from './storage-api/harness.js';

/**
 * The whole session-storage HTTP suite on one backend. `makeStore` returns a fresh, empty
 * store for each test (the test app migrates and closes it); without it each test gets a new
 * SQLite file.
 */
export function describeStorageApi(name: string, makeStore?: StoreFactory): void {
  describe(`session-storage API on ${name}`, () => {
    describe('endpoints', () => describeEndpoints(makeStore));
    describe('validation', () => describeValidation(makeStore));
    describe('listing', () => describeListing(makeStore));
    describe('current and validity', () => describeCurrent(makeStore));
    describe('sealing', () => describeSealing(makeStore));
  });
}
