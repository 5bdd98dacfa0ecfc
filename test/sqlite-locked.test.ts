import Database from 'better-sqlite3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectFailure } from './admin/harness.js';
import { at, HOUR, KEY, saveToken, storageClient, TOKEN } from './storage-api/harness.js';
import { newToken } from './store-contract/support.js';
import type { TestApp } from './support/app.js';
import { bearer, login, useTestApps } from './support/app.js';
import { withDeadline } from './support/wait.js';

/** What a request on a locked store may take, at most, before its answer (the documented bound). */
const BOUND_MS = 2000;

/** `request`'s answer within the bound; how long it took is printed, never asserted. */
async function answered(what: string, request: Promise<LightMyRequestResponse>) {
  const started = performance.now();
  const response = await withDeadline(request, BOUND_MS, what);
  console.log(
    `sqlite, write lock held elsewhere: ${what} -> ${response.statusCode} in ${Math.round(performance.now() - started)} ms`,
  );
  return response;
}

const storeToken = (app: FastifyInstance) =>
  storageClient(app).create({ user_id: 'usr_9a2f31', token: TOKEN, expires_at: at(HOUR) });

describe('SQLite with another connection holding the write lock (the CLI, a second process)', () => {
  const startApp = useTestApps();
  let t: TestApp;
  let other: Database.Database;
  beforeEach(async () => {
    t = await startApp();
    other = new Database(t.dbPath as string);
    other.pragma('busy_timeout = 0');
  });
  afterEach(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
  });

  it('a write is 503 STORE_UNAVAILABLE in time, and works again once the lock is released', async () => {
    // Each route answers once first, so what is timed below is the wait on the lock.
    expect((await storeToken(t.app)).statusCode).toBe(201);
    await login(t.app);
    other.exec('BEGIN IMMEDIATE');
    expectFailure(await answered('POST /session-storage', storeToken(t.app)), 503, 'STORE_UNAVAILABLE');
    expectFailure(
      await answered('POST /login', t.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY })),
      503,
      'STORE_UNAVAILABLE',
    );
    other.exec('COMMIT');
    expect((await storeToken(t.app)).statusCode).toBe(201);
    expect((await login(t.app)).response.statusCode).toBe(200);
  });

  it('a write waiting for the lock does not hold up the server: others are answered meanwhile, and each wait is bounded', async () => {
    const saved = await saveToken(t.app);
    const { token } = await login(t.app);
    other.exec('BEGIN IMMEDIATE');
    const settled: string[] = [];
    const track = (what: string, request: Promise<LightMyRequestResponse>) =>
      answered(what, request).then((response) => {
        settled.push(what);
        return response;
      });
    const writes = [track('first write', storeToken(t.app)), track('second write', storeToken(t.app))];
    // Readers need no write lock in WAL mode: reads and session checks are answered meanwhile.
    // (Not GET /:id: reading a whole token writes its audit entry, which waits for the lock too.)
    const health = await track('GET /healthz', t.app.inject({ url: '/healthz' }));
    const read = await track('GET /session-storage', storageClient(t.app).list());
    const check = await track(
      'GET /session',
      t.app.inject({ url: '/api/admin/session', headers: bearer(token) }),
    );
    expect([health.statusCode, read.statusCode, check.statusCode]).toEqual([200, 200, 200]);
    expect(read.json().data.map((item: { id: string }) => item.id)).toEqual([saved.id]);
    expect(settled).toEqual(['GET /healthz', 'GET /session-storage', 'GET /session']);
    for (const write of await Promise.all(writes)) expectFailure(write, 503, 'STORE_UNAVAILABLE');
    other.exec('ROLLBACK');
    expect((await storeToken(t.app)).statusCode).toBe(201);
  });

  it('a write whose lock is let go of while it waits is retried and goes through', async () => {
    other.exec('BEGIN IMMEDIATE');
    // The first try runs (and finds the file locked) at the end of this turn, with the other
    // writes of the turn; the retries come later.
    const insert = t.store.insertStoredToken(newToken('tok_waited'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    other.exec('COMMIT');
    await withDeadline(insert, BOUND_MS, 'the insert once the lock is released');
    expect((await t.store.findStoredToken('tok_waited'))?.id).toBe('tok_waited');
  });
});
