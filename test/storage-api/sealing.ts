import { describe, expect, it } from 'vitest';
import { ADMIN_KEY } from '../support/app.js';
import type { StoreFactory, TestAppOptions } from './harness.js';
import { at, HOUR, saveToken, secretsWith, storageClient, TOKEN, useStorageApp } from './harness.js';

/** Sealed at rest: what the store holds, key rotation, lost keys, tampering, concurrency. */
export function describeSealing(makeStore?: StoreFactory, defaults: TestAppOptions = {}): void {
  const app = useStorageApp(makeStore, { ...defaults, secrets: secretsWith('k1') });

  describe('sealed at rest', () => {
    it('gives the store sealed bytes, the key id and the preview, never the token', async () => {
      const saved = await saveToken(app().app, { expires_at: at(HOUR) });
      const record = await app().store.findStoredToken(saved.id);
      expect(record).toMatchObject({
        id: saved.id,
        userId: 'usr_9a2f31',
        kid: 'k1',
        preview: 'eyJhbGci...Q3Yk',
      });
      expect(record?.sealed.length).toBe(12 + Buffer.byteLength(TOKEN) + 16);
      expect(record?.sealed.includes(Buffer.from(TOKEN))).toBe(false);
      expect(record?.sealed.includes(Buffer.from('eyJzdWIiOiJ1c3JfOWEyZjMxIn0'))).toBe(false);
    });

    it('keeps control characters, NUL included, in the token, and shows them as U+FFFD in its preview', async () => {
      const token = '\u0000head\u001b[31m-middle-of-the-token-tail\u0007';
      const saved = await saveToken(app().app, { token });
      expect(saved.token_preview).toBe('\ufffdhead\ufffd[3...ail\ufffd');
      const client = storageClient(app().app);
      expect((await client.get(saved.id)).json().token).toBe(token);
      expect((await client.list()).json().data[0].token_preview).toBe(saved.token_preview);
    });

    it('shows a bidi override and a zero-width space as U+FFFD in the preview, and keeps them in the token', async () => {
      const token = 'ab\u202ecdef\u200bgh-middle-of-the-token-\u2066tail';
      const saved = await saveToken(app().app, { token });
      expect(saved.token_preview).toBe('ab\ufffdcdef\ufffd...tail');
      expect((await storageClient(app().app).get(saved.id)).json().token).toBe(token);
    });

    it('seals the same token differently each time (random nonce)', async () => {
      const [a, b] = [await saveToken(app().app), await saveToken(app().app)];
      const [sa, sb] = [await app().store.findStoredToken(a.id), await app().store.findStoredToken(b.id)];
      expect(sa?.sealed.subarray(0, 12).equals(sb?.sealed.subarray(0, 12) as Buffer)).toBe(false);
    });

    it('after rotation, opens old records and seals new ones and updates with the new key', async () => {
      const old = await saveToken(app().app, { token: 'sealed-under-k1' });
      const rotated = storageClient(await app().anotherApp({ secrets: secretsWith('k2', 'k1') }));
      expect((await rotated.get(old.id)).json().token).toBe('sealed-under-k1');
      const fresh = (
        await rotated.create({ user_id: 'u', token: 'sealed-under-k2', expires_at: at(HOUR) })
      ).json();
      expect((await app().store.findStoredToken(fresh.id))?.kid).toBe('k2');
      expect((await app().store.findStoredToken(old.id))?.kid).toBe('k1');
      expect((await rotated.get(fresh.id)).json().token).toBe('sealed-under-k2');

      await rotated.update(old.id, { token: 'resealed-under-k2' });
      expect((await app().store.findStoredToken(old.id))?.kid).toBe('k2');
      // Only expires_at changes: the sealed token and its key stay as they were.
      await rotated.update(fresh.id, { expires_at: at(2 * HOUR) });
      expect((await app().store.findStoredToken(fresh.id))?.kid).toBe('k2');

      const k2Only = storageClient(await app().anotherApp({ secrets: secretsWith('k2') }));
      expect((await k2Only.get(old.id)).json().token).toBe('resealed-under-k2');
    });

    it('POST /api/admin/storage/reseal moves every record to the first key, keeps saved_at, and then the old key may go', async () => {
      const saved = [];
      for (let i = 0; i < 5; i++)
        saved.push(await saveToken(app().app, { token: `token-${i}-under-k1`, expires_at: at(HOUR) }));
      const listedBefore = (await storageClient(app().app).list()).json();
      const rotated = await app().anotherApp({ secrets: secretsWith('k2', 'k1') });
      const reseal = () =>
        rotated.inject({
          method: 'POST',
          url: '/api/admin/storage/reseal',
          headers: { 'x-admin-key': ADMIN_KEY },
        });
      expect((await reseal()).json()).toEqual({ success: true, resealed: 5, remaining: 0 });
      expect((await reseal()).json()).toEqual({ success: true, resealed: 0, remaining: 0 });
      for (const record of saved) expect((await app().store.findStoredToken(record.id))?.kid).toBe('k2');
      const k2Only = storageClient(await app().anotherApp({ secrets: secretsWith('k2') }));
      for (const [i, record] of saved.entries()) {
        expect((await k2Only.get(record.id)).json().token).toBe(`token-${i}-under-k1`);
      }
      expect((await k2Only.list()).json()).toEqual(listedBefore);
    });

    it('POST /api/admin/storage/reseal needs the admin credential', async () => {
      const response = await app().app.inject({ method: 'POST', url: '/api/admin/storage/reseal' });
      expect(response.statusCode).toBe(401);
    });

    it('names the missing key when a record was sealed with a key no longer in the ring', async () => {
      const saved = await saveToken(app().app, { expires_at: at(HOUR) });
      const other = storageClient(await app().anotherApp({ secrets: secretsWith('k9') }));
      const expected = {
        success: false,
        error: `Stored token ${saved.id} was sealed with key "k1", which is not in TOKEN_ENCRYPTION_KEYS`,
        code: 'SEALING_KEY_MISSING',
      };
      const byId = await other.get(saved.id);
      expect(byId.statusCode).toBe(500);
      expect(byId.json()).toEqual(expected);
      const current = await other.current();
      expect(current.statusCode).toBe(500);
      expect(current.json()).toEqual(expected);
      // What needs no opening still works, and the record can still be removed or replaced.
      expect((await other.list()).json().data[0]).toMatchObject({
        id: saved.id,
        token_preview: 'eyJhbGci...Q3Yk',
      });
      expect((await other.validity()).json()).toMatchObject({ is_valid: true, expires_at: at(HOUR) });
      expect((await other.update(saved.id, { token: 'replaced-under-k9' })).statusCode).toBe(200);
      expect((await other.get(saved.id)).json().token).toBe('replaced-under-k9');
      expect((await other.remove(saved.id)).statusCode).toBe(200);
    });

    it('is TOKEN_UNREADABLE, not a crash, for a record altered in storage', async () => {
      const saved = await saveToken(app().app);
      const record = await app().store.findStoredToken(saved.id);
      const altered = Buffer.from(record?.sealed as Buffer);
      altered[20] = (altered[20] as number) ^ 0x01;
      await app().store.updateStoredToken(saved.id, {
        sealed: altered,
        savedAtMs: record?.savedAtMs as number,
      });
      const response = await storageClient(app().app).get(saved.id);
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({
        success: false,
        error: `Stored token ${saved.id} cannot be opened: it fails authentication (altered or damaged in storage)`,
        code: 'TOKEN_UNREADABLE',
      });
      expect(response.body).not.toContain(TOKEN);
      expect((await storageClient(app().app).current()).json().code).toBe('TOKEN_UNREADABLE');
    });

    it('is TOKEN_UNREADABLE for sealed bytes copied from another record (the id is bound in)', async () => {
      const [a, b] = [await saveToken(app().app, { token: 'token-of-a' }), await saveToken(app().app)];
      const sealedA = (await app().store.findStoredToken(a.id))?.sealed as Buffer;
      await app().store.updateStoredToken(b.id, { sealed: sealedA, kid: 'k1', savedAtMs: 0 });
      const response = await storageClient(app().app).get(b.id);
      expect(response.json().code).toBe('TOKEN_UNREADABLE');
      expect(response.body).not.toContain('token-of-a');
    });
  });

  describe('concurrency', () => {
    it('50 concurrent POSTs give 50 distinct ids and a total of 50', async () => {
      const client = storageClient(app().app);
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          client.create({ user_id: `usr_${i}`, token: `token-number-${i}`, expires_at: at(HOUR) }),
        ),
      );
      expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(201));
      const ids = new Set(responses.map((r) => r.json().id as string));
      expect(ids.size).toBe(50);
      expect((await client.list('limit=100')).json().pagination.total).toBe(50);
      for (const [i, response] of responses.entries()) {
        expect((await client.get(response.json().id)).json().token).toBe(`token-number-${i}`);
      }
    });
  });
}
