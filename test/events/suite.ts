import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../src/clock.js';
import type { TestApp, TestAppOptions } from '../support/app.js';
import { ADMIN_KEY, bearer, createApiKey, login, useTestApps } from '../support/app.js';
import { SseClient } from '../support/sse.js';
import { waitUntil } from '../support/wait.js';

const KEY = { 'x-admin-key': ADMIN_KEY };

/** Two instances of one deployment, both listening; `cutFeedOfB` loses B's change feed. */
export interface TwoInstances {
  a: TestApp;
  b: FastifyInstance;
  cutFeedOfB?: () => Promise<void>;
}

export type StartInstances = (
  startApp: (options?: TestAppOptions) => Promise<TestApp>,
  options?: TestAppOptions,
) => Promise<TwoInstances>;

export const baseUrl = (app: FastifyInstance): string => {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the app is not listening');
  return `http://127.0.0.1:${address.port}`;
};

export const listening = async (app: FastifyInstance): Promise<FastifyInstance> => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
};

/** `GET /api/admin/events` on one backend: the snapshot, live events from either instance, ends. */
/**
 * `feedCanBeCut`: whether the backend's change feed has a connection a test can cut (SQLite's
 * is a poll of the file, so its case is not defined there rather than skipped).
 */
export function describeEventStream(
  backend: string,
  start: StartInstances,
  { feedCanBeCut = true }: { feedCanBeCut?: boolean } = {},
): void {
  describe(`event stream on ${backend}`, () => {
    const startApp = useTestApps();
    const clients: SseClient[] = [];
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });
    const connect = async (app: FastifyInstance, headers: Record<string, string> = KEY) => {
      const client = await SseClient.open(`${baseUrl(app)}/api/admin/events`, headers);
      clients.push(client);
      return client;
    };

    it('GET /api/admin/events without a credential is 401, with an API key lacking sessions:read 403', async () => {
      const { b } = await start(startApp);
      expect((await connect(b, {})).status).toBe(401);
      const storageOnly = await createApiKey(b, ['storage:read'], 'events test');
      const refused = await connect(b, bearer(storageOnly.key));
      expect(refused.status).toBe(403);
      expect(await refused.response.json()).toMatchObject({ code: 'FORBIDDEN' });
    });

    it('GET /api/admin/events opens with SSE headers and a snapshot of the version and the revoked sessions not expired', async () => {
      const { a, b } = await start(startApp);
      const revoked = await login(a.app);
      const kept = await login(a.app);
      await a.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      const client = await connect(b);
      expect(client.status).toBe(200);
      expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(client.response.headers.get('cache-control')).toBe('no-cache');
      expect(client.response.headers.get('x-accel-buffering')).toBe('no');
      const snapshot = await client.waitFor('snapshot');
      expect(snapshot).toEqual({ id: '1', event: 'snapshot', data: { version: 1, revoked: [revoked.jti] } });
      expect(client.events[0]).toBe(snapshot);
      expect(kept.jti).not.toBe(revoked.jti);
    });

    it('the snapshot leaves out revoked sessions that have expired', async () => {
      const { a, b } = await start(startApp);
      const revoked = await login(a.app);
      await a.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      a.clock.advance(25 * HOUR_MS);
      const client = await connect(b);
      expect((await client.waitFor('snapshot')).data).toEqual({ version: 1, revoked: [] });
    });

    it('an API key with sessions:read may follow the stream', async () => {
      const { b } = await start(startApp);
      const reader = await createApiKey(b, ['sessions:read'], 'events test');
      const client = await connect(b, bearer(reader.key));
      expect(client.status).toBe(200);
      await client.waitFor('snapshot');
    });

    it('login, revoke one, revoke-others, revoke-all and an API key revoked on instance A are streamed by instance B, each with an id', async () => {
      const { a, b } = await start(startApp);
      const client = await connect(b);
      await client.waitFor('snapshot');
      const first = await login(a.app);
      const created = await client.waitFor<{ jti: string }>(
        'session.created',
        (data) => data.jti === first.jti,
      );
      const claims = JSON.parse(Buffer.from(first.token.split('.')[1] ?? '', 'base64url').toString()) as {
        iat: number;
        exp: number;
        v: number;
      };
      expect(created.data).toEqual({ jti: first.jti, iat: claims.iat, exp: claims.exp, v: claims.v });

      await a.app.inject({ method: 'DELETE', url: `/api/admin/tokens/sessions/${first.jti}`, headers: KEY });
      await client.waitFor<{ jti: string }>('session.revoked', (data) => data.jti === first.jti);

      const caller = await login(a.app);
      const other = await login(a.app);
      await a.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: bearer(caller.token),
      });
      await client.waitFor<{ jti: string }>('session.revoked', (data) => data.jti === other.jti);
      await a.app.inject({ method: 'POST', url: '/api/admin/logout', headers: bearer(caller.token) });
      await client.waitFor<{ jti: string }>('session.revoked', (data) => data.jti === caller.jti);

      await a.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      await client.waitFor<{ version: number }>('sessions.version', (data) => data.version === 2);

      const app = await createApiKey(a.app, ['storage:read'], 'events test');
      await a.app.inject({ method: 'DELETE', url: `/api/admin/api-keys/${app.id}`, headers: KEY });
      await client.waitFor<{ id: string }>('api_key.revoked', (data) => data.id === app.id);

      const ids = client.events.map((event) => Number(event.id));
      expect(ids).toEqual(ids.map((_, index) => index + 1));
    });

    it('a stream opened with an API key ends when that key is revoked', async () => {
      const { a, b } = await start(startApp);
      const reader = await createApiKey(a.app, ['sessions:read'], 'events test');
      const client = await connect(b, bearer(reader.key));
      await client.waitFor('snapshot');
      await a.app.inject({ method: 'DELETE', url: `/api/admin/api-keys/${reader.id}`, headers: KEY });
      await client.waitEnded();
      expect(client.events.at(-1)).toMatchObject({ event: 'api_key.revoked', data: { id: reader.id } });
    });

    it('a stream opened with a session ends when that session expires', async () => {
      const { a, b } = await start(startApp, { config: { sessionTtlSeconds: 1 } });
      const session = await login(a.app);
      const client = await connect(b, bearer(session.token));
      await client.waitFor('snapshot');
      // The session's exp is one second after the (frozen) clock: the stream ends then.
      await client.waitEnded();
    });

    it('closing the app ends its open streams (close does not wait for the clients)', async () => {
      const { b } = await start(startApp);
      const client = await connect(b);
      await client.waitFor('snapshot');
      await b.close();
      await client.waitEnded();
    });

    if (feedCanBeCut) {
      it("when B's change feed is lost, B ends the stream, and a new one starts from a fresh snapshot", async () => {
        const { a, b, cutFeedOfB } = await start(startApp);
        if (cutFeedOfB === undefined) throw new Error('this backend gave no way to cut the feed');
        const client = await connect(b);
        await client.waitFor('snapshot');
        const missed = await login(a.app);
        await cutFeedOfB();
        await client.waitEnded();
        // Revoked while B may not hear it: the next stream's snapshot has it.
        await a.app.inject({
          method: 'DELETE',
          url: `/api/admin/tokens/sessions/${missed.jti}`,
          headers: KEY,
        });
        // B's feed comes back by itself; until it has, a new stream is refused with 503.
        const again = await waitUntil(
          'a new stream on B',
          async () => {
            const attempt = await connect(b);
            return attempt.status === 200 ? attempt : null;
          },
          { intervalMs: 50 },
        );
        expect((await again.waitFor('snapshot')).data).toEqual({ version: 1, revoked: [missed.jti] });
      });
    }
  });
}
