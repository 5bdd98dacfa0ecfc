import { expect } from 'vitest';
import { RecordingListener } from '../store-contract/support.js';
import type { TestApp, TestAppOptions } from '../support/app.js';
import type { SharedData } from '../support/shared-data.js';
import { listening, type TwoInstances } from './suite.js';

/** Instances A and B, each its own store on the same data, both listening; B's feed can be cut. */
export async function sharedInstances(
  data: SharedData,
  startApp: (options?: TestAppOptions) => Promise<TestApp>,
  options: TestAppOptions = {},
): Promise<TwoInstances> {
  const a = await startApp({ ...options, store: data.open() });
  const aFeed = new RecordingListener();
  a.store.subscribe(aFeed);
  await aFeed.waitUp();
  const before = await data.feedConnections();
  const b = await startApp({ ...options, store: data.open(), clock: a.clock });
  const bFeed = new RecordingListener();
  b.store.subscribe(bFeed);
  await bFeed.waitUp();
  const bConnections = (await data.feedConnections()).filter((c) => !before.includes(c));
  expect(bConnections).toHaveLength(1);
  await listening(a.app);
  await listening(b.app);
  return {
    a,
    b: b.app,
    cutFeedOfB: () => data.killConnection(bConnections[0] as string),
  };
}

/** A on the data, and B started (again) on demand, as `describeVerifier` wants them. */
export async function sharedDeployment(
  data: SharedData,
  startApp: (options?: TestAppOptions) => Promise<TestApp>,
) {
  const a = await startApp({ store: data.open() });
  return {
    a,
    startB: async (port = 0) => {
      const b = await startApp({ store: data.open(), clock: a.clock });
      await b.app.listen({ port, host: '127.0.0.1' });
      return b.app;
    },
  };
}
