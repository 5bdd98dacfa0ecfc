import { describe, expect, it } from 'vitest';
import { sweepExpired } from '../../src/sweeper.js';
import type { StoreFactory, TestAppOptions } from './harness.js';
import { at, HOUR, MINUTE, saveToken, storageClient, useStorageApp } from './harness.js';

const DAY = 24 * HOUR;

/** current, validity, is_valid and the expiry sweep, all under a frozen clock. */
export function describeCurrent(makeStore?: StoreFactory, defaults: TestAppOptions = {}): void {
  const app = useStorageApp(makeStore, defaults);
  const client = () => storageClient(app().app);

  describe('GET /current', () => {
    it('is 404 TOKEN_NOT_FOUND when nothing is stored', async () => {
      const response = await client().current();
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({
        success: false,
        error: 'No stored token is currently valid',
        code: 'TOKEN_NOT_FOUND',
      });
    });

    it("returns the contract's shape: the whole token, its expiry and validity", async () => {
      await saveToken(app().app, { token: 'eyJ.current.token', expires_at: '2026-03-26T11:00:00Z' });
      const response = await client().current();
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        token: 'eyJ.current.token',
        expires_at: '2026-03-26T11:00:00Z',
        is_valid: true,
      });
    });

    it('is the most recently saved token that is still valid', async () => {
      await saveToken(app().app, { token: 'older-long-lived', expires_at: at(3 * HOUR) });
      app().clock.advance(MINUTE);
      await saveToken(app().app, { token: 'newer-short-lived', expires_at: at(HOUR) });
      app().clock.advance(MINUTE);
      await saveToken(app().app, { token: 'newest-but-expired', expires_at: at(0) });
      expect((await client().current()).json().token).toBe('newer-short-lived');
      app().clock.set(Date.parse(at(HOUR)));
      expect((await client().current()).json().token).toBe('older-long-lived');
      app().clock.set(Date.parse(at(3 * HOUR)));
      expect((await client().current()).statusCode).toBe(404);
    });

    it('follows PUT: a renewed token becomes current', async () => {
      const first = await saveToken(app().app, { token: 'first-token-value', expires_at: at(HOUR) });
      app().clock.advance(MINUTE);
      await saveToken(app().app, { token: 'second-token-value', expires_at: at(HOUR) });
      app().clock.advance(MINUTE);
      await client().update(first.id, { token: 'first-token-renewed' });
      expect((await client().current()).json().token).toBe('first-token-renewed');
    });

    it('filters by ?user_id=, and its 404 names the user', async () => {
      await saveToken(app().app, { user_id: 'usr_a', token: 'token-of-a', expires_at: at(HOUR) });
      app().clock.advance(MINUTE);
      await saveToken(app().app, { user_id: 'usr_b', token: 'token-of-b', expires_at: at(HOUR) });
      expect((await client().current()).json().token).toBe('token-of-b');
      expect((await client().current('user_id=usr_a')).json().token).toBe('token-of-a');
      const none = await client().current('user_id=usr_c');
      expect(none.statusCode).toBe(404);
      expect(none.json()).toEqual({
        success: false,
        error: 'No stored token is currently valid for user_id "usr_c"',
        code: 'TOKEN_NOT_FOUND',
      });
    });
  });

  describe('GET /validity', () => {
    it('with no valid token is not valid, has no expiry and no time left', async () => {
      expect((await client().validity()).json()).toEqual({
        is_valid: false,
        expires_at: null,
        seconds_remaining: 0,
      });
      await saveToken(app().app, { expires_at: at(-MINUTE) });
      expect((await client().validity()).json()).toEqual({
        is_valid: false,
        expires_at: null,
        seconds_remaining: 0,
      });
    });

    it("matches the contract's example: 3540 seconds left at 10:01", async () => {
      await saveToken(app().app, { expires_at: '2026-03-26T11:00:00Z' });
      app().clock.set(Date.parse('2026-03-26T10:01:00Z'));
      const response = await client().validity();
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        is_valid: true,
        expires_at: '2026-03-26T11:00:00Z',
        seconds_remaining: 3540,
      });
    });

    it('counts whole seconds, rounding down, and never below zero', async () => {
      await saveToken(app().app, { expires_at: at(2000) });
      app().clock.advance(1);
      expect((await client().validity()).json().seconds_remaining).toBe(1);
      app().clock.advance(1498);
      expect((await client().validity()).json()).toMatchObject({ is_valid: true, seconds_remaining: 0 });
      app().clock.advance(501);
      expect((await client().validity()).json()).toEqual({
        is_valid: false,
        expires_at: null,
        seconds_remaining: 0,
      });
    });

    it('describes the same token as current, per user too', async () => {
      await saveToken(app().app, { user_id: 'usr_a', expires_at: at(2 * HOUR) });
      app().clock.advance(MINUTE);
      await saveToken(app().app, { user_id: 'usr_b', expires_at: at(HOUR) });
      const all = (await client().validity()).json();
      expect(all.expires_at).toBe((await client().current()).json().expires_at);
      expect(all).toEqual({ is_valid: true, expires_at: at(HOUR), seconds_remaining: 3540 });
      expect((await client().validity('user_id=usr_a')).json()).toEqual({
        is_valid: true,
        expires_at: at(2 * HOUR),
        seconds_remaining: 2 * 3600 - 60,
      });
    });
  });

  describe('GET /:id over time', () => {
    it('keeps an expired record, readable and marked not valid, until it is swept', async () => {
      const saved = await saveToken(app().app, { expires_at: at(HOUR) });
      app().clock.advance(2 * HOUR);
      const response = await client().get(saved.id);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ id: saved.id, is_valid: false, expires_at: at(HOUR) });
    });
  });

  describe('the expiry sweep', () => {
    it('removes exactly the records expired for longer than the retention', async () => {
      const long = await saveToken(app().app, { expires_at: at(-31 * DAY) });
      const justPast = await saveToken(app().app, { expires_at: at(-30 * DAY - 1) });
      const atCutoff = await saveToken(app().app, { expires_at: at(-30 * DAY) });
      const recent = await saveToken(app().app, { expires_at: at(-1 * DAY) });
      const valid = await saveToken(app().app, { expires_at: at(HOUR) });

      const swept = await sweepExpired(app().store, app().clock, { storageDays: 30, auditDays: 90 });
      expect(swept.tokens).toBe(2);
      const left = (await client().list()).json().data.map((r: { id: string }) => r.id);
      expect(left.sort()).toEqual([atCutoff.id, recent.id, valid.id].sort());
      for (const gone of [long, justPast]) expect((await client().get(gone.id)).statusCode).toBe(404);

      app().clock.advance(1);
      expect((await sweepExpired(app().store, app().clock, { storageDays: 30, auditDays: 90 })).tokens).toBe(
        1,
      );
      expect((await client().get(atCutoff.id)).statusCode).toBe(404);
      expect((await sweepExpired(app().store, app().clock, { storageDays: 30, auditDays: 90 })).tokens).toBe(
        0,
      );
    });

    it('honours the retention it is given', async () => {
      await saveToken(app().app, { expires_at: at(-2 * DAY) });
      expect((await sweepExpired(app().store, app().clock, { storageDays: 3, auditDays: 90 })).tokens).toBe(
        0,
      );
      expect((await sweepExpired(app().store, app().clock, { storageDays: 1, auditDays: 90 })).tokens).toBe(
        1,
      );
    });
  });
}
