import { describe } from 'vitest';
import { accessTests } from './admin/access.js';
import { authTests } from './admin/auth.js';
import { badInputTests } from './admin/bad-input.js';
import { failureTests } from './admin/failures.js';
import { forgedTokenTests } from './admin/forged-tokens.js';
import type { AdminApiHarness, StoreFactory } from './admin/harness.js';
import { headerAndHealthTests } from './admin/headers.js';
import { loginTests } from './admin/login.js';
import { revokeTests } from './admin/revoke.js';
import { sessionListingTests } from './admin/sessions.js';
import type { TestAppOptions } from './support/app.js';
import { useTestApps } from './support/app.js';

/**
 * The admin session API's HTTP tests (issue 2), in-process with `app.inject` and a frozen
 * clock, against whatever store `makeStore` opens (a fresh SQLite file when omitted). Call
 * it once per backend; `defaults` applies to every app the suite starts (e.g. the session
 * check mode).
 */
export function describeAdminApi(
  name: string,
  makeStore?: StoreFactory,
  defaults: TestAppOptions = {},
): void {
  describe(name, () => {
    const harness: AdminApiHarness = {
      start: useTestApps({ ...defaults, ...(makeStore === undefined ? {} : { store: makeStore }) }),
    };

    loginTests(harness);
    authTests(harness);
    forgedTokenTests(harness);
    sessionListingTests(harness);
    revokeTests(harness);
    badInputTests(harness);
    failureTests(harness);
    headerAndHealthTests(harness);
    accessTests(harness);
  });
}
