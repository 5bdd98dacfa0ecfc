import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Store } from '../src/store/types.js';
import { createSessionVerifier, type Session } from '../src/verify/index.js';
import { baseUrl, describeEventStream, listening } from './events/suite.js';
import { ADMIN_KEY, bearer, login, type TestApp, useTestApps } from './support/app.js';
import { SseClient } from './support/sse.js';
import { waitUntil } from './support/wait.js';
import { describeVerifier } from './verify/suite.js';

const KEY = { 'x-admin-key': ADMIN_KEY };

/** A second instance, listening, on the first's store, and an API key holding sessions:read. */
async function secondInstanceWithKey(t: TestApp, name: string) {
  const b = await listening(await t.anotherApp());
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/admin/api-keys',
    headers: KEY,
    payload: { name, scopes: ['sessions:read'] },
  });
  return { b, apiKey: (created.json() as { key: string }).key };
}

declare module 'fastify' {
  interface FastifyRequest {
    tesseraSession: Session | null;
  }
}

describeEventStream(
  'SQLite',
  async (startApp, options = {}) => {
    const a = await startApp(options);
    await listening(a.app);
    const b = await listening(await a.anotherApp());
    return { a, b };
  },
  { feedCanBeCut: false },
);

describe('event stream: between the snapshot and the live events', () => {
  const startApp = useTestApps();

  it('a revocation made while the snapshot is read is streamed after it, not lost', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reading = false;
    // The snapshot's read completes, then waits at the gate: what happens meanwhile is not in it.
    const gated = (store: Store): Store =>
      new Proxy(store, {
        get(target, property) {
          if (property === 'listRevokedSessions')
            return async (nowSeconds: number) => {
              const sessions = await target.listRevokedSessions(nowSeconds);
              reading = true;
              await gate;
              return sessions;
            };
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const t = await startApp({ wrapStore: gated });
    await listening(t.app);
    const session = await login(t.app);
    const connecting = SseClient.open(`${baseUrl(t.app)}/api/admin/events`, KEY);
    await waitUntil('the snapshot read', () => reading);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/api/admin/tokens/sessions/${session.jti}`,
      headers: KEY,
    });
    expect(revoked.statusCode).toBe(200);
    release();
    const client = await connecting;
    try {
      await client.waitFor('session.revoked');
      expect(client.events.map((event) => [event.event, event.data])).toEqual([
        ['snapshot', { version: 1, revoked: [] }],
        ['session.revoked', { jti: session.jti }],
      ]);
    } finally {
      client.close();
    }
  });

  it('an open stream carries a keepalive comment at each interval', async () => {
    const t = await startApp({ events: { keepaliveMs: 20 } });
    await listening(t.app);
    const client = await SseClient.open(`${baseUrl(t.app)}/api/admin/events`, KEY);
    try {
      await waitUntil('two keepalives', () => client.comments.length >= 2);
      expect(client.comments.slice(0, 2)).toEqual(['keepalive', 'keepalive']);
    } finally {
      client.close();
    }
  });
});

describeVerifier('SQLite', async (startApp) => {
  const a = await startApp();
  return {
    a,
    startB: async (port = 0) => {
      const b = await a.anotherApp();
      await b.listen({ port, host: '127.0.0.1' });
      return b;
    },
  };
});

describe('session verifier: the Fastify hook', () => {
  const startApp = useTestApps();

  it('a Fastify route behind the hook answers 401 without a live session and sees the session with one', async () => {
    const t = await startApp();
    const { b, apiKey } = await secondInstanceWithKey(t, 'fastify app');
    const verifier = createSessionVerifier({
      url: baseUrl(b),
      apiKey,
    });
    const guarded = Fastify();
    try {
      await verifier.ready;
      guarded.decorateRequest('tesseraSession', null);
      guarded.addHook('onRequest', verifier.fastify());
      guarded.get('/admin', async (request) => ({ jti: request.tesseraSession?.jti }));
      const { token, jti } = await login(t.app);
      const refused = await guarded.inject({ url: '/admin' });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual({ success: false, error: 'Unauthorized', code: 'UNAUTHORIZED' });
      expect((await guarded.inject({ url: '/admin', headers: bearer(token) })).json()).toEqual({ jti });
      await t.app.inject({ method: 'DELETE', url: `/api/admin/tokens/sessions/${jti}`, headers: KEY });
      await waitUntil(
        'the revocation refused',
        async () => (await guarded.inject({ url: '/admin', headers: bearer(token) })).statusCode === 401,
      );
    } finally {
      verifier.close();
      await guarded.close();
    }
  });
});

describe('session verifier: bounded memory', () => {
  const startApp = useTestApps();

  it('maxEntries bounds the tokens remembered: one pushed out is asked about again', async () => {
    const t = await startApp();
    const { b, apiKey } = await secondInstanceWithKey(t, 'bounded');
    let sessionRequests = 0;
    const verifier = createSessionVerifier({
      url: baseUrl(b),
      apiKey,
      maxEntries: 2,
      fetch: (input, init) => {
        if (String(input).endsWith('/api/admin/session')) sessionRequests++;
        return fetch(input, init);
      },
    });
    try {
      await verifier.ready;
      const [first, second, third] = [await login(t.app), await login(t.app), await login(t.app)];
      for (const { token } of [first, second, third]) expect(await verifier.verify(token)).not.toBeNull();
      expect(sessionRequests).toBe(3);
      expect(await verifier.verify(third.token)).not.toBeNull();
      expect(sessionRequests).toBe(3);
      expect(await verifier.verify(first.token)).not.toBeNull();
      expect(sessionRequests).toBe(4);
    } finally {
      verifier.close();
    }
  });

  it('ready rejects when Tessera refuses the API key, and verify() still asks Tessera', async () => {
    const t = await startApp();
    const b = await listening(await t.anotherApp());
    const errors: Error[] = [];
    const verifier = createSessionVerifier({
      url: baseUrl(b),
      apiKey: `tsk_${'A'.repeat(43)}`,
      onError: (error) => errors.push(error),
    });
    try {
      await expect(verifier.ready).rejects.toMatchObject({ name: 'StreamRefusedError', status: 401 });
      expect(errors[0]?.message).toMatch(/sessions:read/);
      const { token, jti } = await login(t.app);
      expect(await verifier.verify(token)).toMatchObject({ jti });
      expect(verifier.isLive).toBe(false);
    } finally {
      verifier.close();
    }
  });

  it('createSessionVerifier refuses bad options at once', () => {
    expect(() => createSessionVerifier({ url: 'localhost:3000', apiKey: 'tsk_x' })).toThrow(/url/);
    expect(() => createSessionVerifier({ url: 'http://127.0.0.1:1', apiKey: '' })).toThrow(/apiKey/);
    expect(() =>
      createSessionVerifier({ url: 'http://127.0.0.1:1', apiKey: 'tsk_x', maxEntries: 0 }),
    ).toThrow(/maxEntries/);
  });
});
