import { describe } from 'vitest';
import { describeCurrent } from './storage-api/current.js';
import { describeEndpoints } from './storage-api/endpoints.js';
import type { StoreFactory, TestAppOptions } from './storage-api/harness.js';
import { describeListing } from './storage-api/listing.js';
import { describeSealing } from './storage-api/sealing.js';
import { describeValidation } from './storage-api/validation.js';

export type { StoreFactory } from './storage-api/harness.js';

/**
 * The whole session-storage HTTP suite on one backend. `makeStore` returns a fresh, empty
 * store for each test (the test app migrates and closes it); without it each test gets a new
 * SQLite file. `defaults` applies to every app the suite starts (e.g. scale-out `instances`).
 */
export function describeStorageApi(
  name: string,
  makeStore?: StoreFactory,
  defaults: TestAppOptions = {},
): void {
  describe(`session-storage API on ${name}`, () => {
    describe('endpoints', () => describeEndpoints(makeStore, defaults));
    describe('validation', () => describeValidation(makeStore, defaults));
    describe('listing', () => describeListing(makeStore, defaults));
    describe('current and validity', () => describeCurrent(makeStore, defaults));
    describe('sealing', () => describeSealing(makeStore, defaults));
  });
}
