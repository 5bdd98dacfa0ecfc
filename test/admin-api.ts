import { afterEach, describe } from 'vitest';
import { authTests } from './admin/auth.js';
import { badInputTests } from './admin/bad-input.js';
import { failureTests } from './admin/failures.js';
import { forgedTokenTests } from './admin/forged-tokens.js';
import type { AdminApiHarness, StoreFactory } from './admin/harness.js';
import { headerAndHealthTests } from './admin/headers.js';
import { loginTests } from './admin/login.js';
import { revokeTests } from './admin/revoke.js';
import { sessionListingTests } from './admin/sessions.js';
import type { TestApp, TestAppOptions } from './support/app.js';
import { createTestApp } from './support/app.js';

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
    const started: TestApp[] = [];
    const harness: AdminApiHarness = {
      async start(options = {}) {
        const t = await createTestApp({
          ...defaults,
          ...options,
          config: { ...defaults.config, ...options.config },
          ...(makeStore === undefined ? {} : { store: await makeStore() }),
        });
        started.push(t);
        return t;
      },
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((t) => t.close()));
    });

    loginTests(harness);
    authTests(harness);
    forgedTokenTests(harness);
    sessionListingTests(harness);
    revokeTests(harness);
    badInputTests(harness);
    failureTests(harness);
    headerAndHealthTests(harness);
  });
}
