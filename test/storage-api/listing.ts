import { describe, expect, it } from 'vitest';
import type { SavedToken, StoreFactory, TestAppOptions } from './harness.js';
import { at, HOUR, MINUTE, saveToken, storageClient, TOKEN, useStorageApp } from './harness.js';

interface Listing {
  data: Omit<SavedToken, 'created_at'>[];
  pagination: { page: number; limit: number; total: number };
}

const ids = (listing: Listing) => listing.data.map((record) => record.id);

/** GET /: order, paging edges and filters. */
export function describeListing(makeStore?: StoreFactory, defaults: TestAppOptions = {}): void {
  const app = useStorageApp(makeStore, defaults);
  const list = async (query?: string): Promise<Listing> => {
    const response = await storageClient(app().app).list(query);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Listing;
  };

  /** `count` records saved one second apart, oldest first. */
  const saveMany = async (count: number, body: Parameters<typeof saveToken>[1] = {}) => {
    const saved: SavedToken[] = [];
    for (let i = 0; i < count; i++) {
      saved.push(await saveToken(app().app, body));
      app().clock.advance(1000);
    }
    return saved;
  };

  describe('GET /', () => {
    it('on an empty store is an empty page with the defaults', async () => {
      expect(await list()).toEqual({ data: [], pagination: { page: 1, limit: 20, total: 0 } });
    });

    it('shows the contract fields with a preview, never the token', async () => {
      const saved = await saveToken(app().app, { expires_at: '2026-03-26T11:00:00Z' });
      const response = await storageClient(app().app).list();
      expect(response.json()).toEqual({
        data: [
          {
            id: saved.id,
            user_id: 'usr_9a2f31',
            token_preview: 'eyJhbGci...Q3Yk',
            expires_at: '2026-03-26T11:00:00Z',
            is_valid: true,
            saved_at: '2026-03-26T08:00:00Z',
          },
        ],
        pagination: { page: 1, limit: 20, total: 1 },
      });
      expect(response.body).not.toContain(TOKEN);
    });

    it('lists newest saved_at first, and a PUT moves a record to the top', async () => {
      const [a, b, c] = await saveMany(3);
      expect(ids(await list())).toEqual([c?.id, b?.id, a?.id]);
      await storageClient(app().app).update(a?.id as string, { token: 'renewed-token-value' });
      expect(ids(await list())).toEqual([a?.id, c?.id, b?.id]);
    });

    it('orders records saved in the same millisecond by creation, newest first', async () => {
      const saved: SavedToken[] = [];
      for (let i = 0; i < 5; i++) saved.push(await saveToken(app().app));
      expect(ids(await list())).toEqual(saved.map((s) => s.id).reverse());
    });

    it('pages: full pages, the last partial page, and a page past the end', async () => {
      const saved = (await saveMany(25)).map((s) => s.id).reverse();
      const first = await list('limit=10');
      expect(first.pagination).toEqual({ page: 1, limit: 10, total: 25 });
      expect(ids(first)).toEqual(saved.slice(0, 10));
      expect(ids(await list('page=2&limit=10'))).toEqual(saved.slice(10, 20));
      const last = await list('page=3&limit=10');
      expect(ids(last)).toEqual(saved.slice(20));
      expect(last.pagination).toEqual({ page: 3, limit: 10, total: 25 });
      expect(await list('page=4&limit=10')).toEqual({
        data: [],
        pagination: { page: 4, limit: 10, total: 25 },
      });
      expect(ids(await list())).toEqual(saved.slice(0, 20));
      expect(ids(await list('page=2'))).toEqual(saved.slice(20));
    });

    it('takes the limits of its range: limit 1 and limit 100', async () => {
      const saved = (await saveMany(3)).map((s) => s.id).reverse();
      expect(ids(await list('limit=1&page=3'))).toEqual([saved[2]]);
      expect((await list('limit=100')).pagination).toEqual({ page: 1, limit: 100, total: 3 });
    });

    it('filters by user_id, counting only that user', async () => {
      const [mine] = await saveMany(1, { user_id: 'usr_a' });
      await saveMany(2, { user_id: 'usr_b' });
      const listing = await list('user_id=usr_a');
      expect(ids(listing)).toEqual([mine?.id]);
      expect(listing.pagination.total).toBe(1);
      expect((await list('user_id=usr_nobody')).pagination.total).toBe(0);
    });

    it('filters by validity at the time of the read', async () => {
      const [expired] = await saveMany(1, { expires_at: at(-HOUR) });
      const [valid] = await saveMany(1, { expires_at: at(HOUR) });
      expect(ids(await list('valid=true'))).toEqual([valid?.id]);
      expect(ids(await list('valid=false'))).toEqual([expired?.id]);
      app().clock.set(Date.parse(at(HOUR)));
      expect(ids(await list('valid=true'))).toEqual([]);
      expect((await list('valid=false')).pagination.total).toBe(2);
      expect(ids(await list('valid=false&user_id=usr_9a2f31&limit=1'))).toEqual([valid?.id]);
    });

    it('computes is_valid when read, from the clock', async () => {
      await saveToken(app().app, { expires_at: at(10 * MINUTE) });
      expect((await list()).data[0]?.is_valid).toBe(true);
      app().clock.advance(10 * MINUTE - 1);
      expect((await list()).data[0]?.is_valid).toBe(true);
      app().clock.advance(1);
      expect((await list()).data[0]?.is_valid).toBe(false);
    });
  });
}
