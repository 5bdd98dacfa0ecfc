import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionVerifier, type TesseraSessionVerifier } from '../../src/verify/index.js';
import { baseUrl } from '../events/suite.js';
import type { TestApp, TestAppOptions } from '../support/app.js';
import { ADMIN_KEY, bearer, login, testSecrets, useTestApps } from '../support/app.js';
import {
  decodeSegment,
  encodeJson,
  flippedSignature,
  hmacToken,
  nonCanonicalSignature,
  withPayload,
} from '../support/forge.js';
import { waitUntil } from '../support/wait.js';

const KEY = { 'x-admin-key': ADMIN_KEY };

/**
 * Instance A (where revocations are made) and instance B (what the verifier follows), both on
 * one store; `startB(port)` starts B, again on the same port after a restart.
 */
export interface VerifierDeployment {
  a: TestApp;
  startB(port?: number): Promise<FastifyInstance>;
}

export type StartDeployment = (
  startApp: (options?: TestAppOptions) => Promise<TestApp>,
) => Promise<VerifierDeployment>;

/** The verifier against a running Tessera: first sight asks, then memory kept exact by the stream. */
export function describeVerifier(backend: string, start: StartDeployment): void {
  describe(`session verifier on ${backend}`, () => {
    const startApp = useTestApps();
    const verifiers: TesseraSessionVerifier[] = [];
    afterEach(() => {
      for (const verifier of verifiers.splice(0)) verifier.close();
    });

    /** A verifier of B, its session requests counted, its errors kept. */
    async function verifierOf(a: TestApp, b: FastifyInstance) {
      const created = await a.app.inject({
        method: 'POST',
        url: '/api/admin/api-keys',
        headers: KEY,
        payload: { name: 'verifier', scopes: ['sessions:read'] },
      });
      expect(created.statusCode).toBe(201);
      const counted = { sessionRequests: 0 };
      const errors: Error[] = [];
      const verifier = createSessionVerifier({
        url: baseUrl(b),
        apiKey: (created.json() as { key: string }).key,
        onError: (error) => errors.push(error),
        fetch: (input, init) => {
          if (String(input).endsWith('/api/admin/session')) counted.sessionRequests++;
          return fetch(input, init);
        },
      });
      verifiers.push(verifier);
      await verifier.ready;
      return { verifier, counted, errors };
    }

    const revoke = (a: TestApp, jti: string) =>
      a.app.inject({ method: 'DELETE', url: `/api/admin/tokens/sessions/${jti}`, headers: KEY });

    it('verify() asks Tessera the first time, then answers from memory', async () => {
      const { a, startB } = await start(startApp);
      const { verifier, counted } = await verifierOf(a, await startB());
      const { token, jti } = await login(a.app);
      const session = await verifier.verify(token);
      expect(session).toMatchObject({ jti, v: 1 });
      expect(counted.sessionRequests).toBe(1);
      for (let i = 0; i < 100; i++) expect(await verifier.verify(token)).toEqual(session);
      expect(counted.sessionRequests).toBe(1);
    });

    it('a session revoked on another instance is refused from memory once its event arrives', async () => {
      const { a, startB } = await start(startApp);
      const { verifier, counted } = await verifierOf(a, await startB());
      const revoked = await login(a.app);
      const kept = await login(a.app);
      expect(await verifier.verify(revoked.token)).not.toBeNull();
      expect(await verifier.verify(kept.token)).not.toBeNull();
      expect((await revoke(a, revoked.jti)).statusCode).toBe(200);
      await waitUntil('the revocation seen', async () => (await verifier.verify(revoked.token)) === null);
      expect(await verifier.verify(kept.token)).toMatchObject({ jti: kept.jti });
      expect(counted.sessionRequests).toBe(2);
    });

    it('revoke-all refuses every session from memory; a session made after it is accepted', async () => {
      const { a, startB } = await start(startApp);
      const { verifier } = await verifierOf(a, await startB());
      const sessions = [await login(a.app), await login(a.app)];
      for (const { token } of sessions) expect(await verifier.verify(token)).not.toBeNull();
      await a.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      for (const { token } of sessions) {
        await waitUntil('revoke-all seen', async () => (await verifier.verify(token)) === null);
      }
      const after = await login(a.app);
      expect(await verifier.verify(after.token)).toMatchObject({ jti: after.jti, v: 2 });
    });

    it("revoke-others refuses every other session, logout the caller's own", async () => {
      const { a, startB } = await start(startApp);
      const { verifier } = await verifierOf(a, await startB());
      const caller = await login(a.app);
      const other = await login(a.app);
      expect(await verifier.verify(caller.token)).not.toBeNull();
      expect(await verifier.verify(other.token)).not.toBeNull();
      await a.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: bearer(caller.token),
      });
      await waitUntil('revoke-others seen', async () => (await verifier.verify(other.token)) === null);
      expect(await verifier.verify(caller.token)).toMatchObject({ jti: caller.jti });
      await a.app.inject({ method: 'POST', url: '/api/admin/logout', headers: bearer(caller.token) });
      await waitUntil('logout seen', async () => (await verifier.verify(caller.token)) === null);
    });

    it('forged and tampered tokens are never accepted, before or after the real one is known', async () => {
      const { a, startB } = await start(startApp);
      const { verifier } = await verifierOf(a, await startB());
      const { token } = await login(a.app);
      const payload = decodeSegment(token, 1);
      const header = decodeSegment(token, 0);
      const forged = [
        withPayload(token, { ...payload, exp: Number(payload.exp) + 3600 }),
        withPayload(token, { ...payload, v: 2 }),
        flippedSignature(token),
        nonCanonicalSignature(token),
        hmacToken(header, payload, Buffer.alloc(32, 9)),
        `${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(payload)}.`,
        `${token}x`,
        token.slice(0, -1),
        '',
        'not a token',
        ADMIN_KEY,
      ];
      for (const candidate of forged) expect(await verifier.verify(candidate), candidate).toBeNull();
      expect(await verifier.verify(token)).not.toBeNull();
      for (const candidate of forged) expect(await verifier.verify(candidate), candidate).toBeNull();
      // Signed with the real secret but never issued by Tessera (no such session): refused too.
      const unissued = hmacToken(
        header,
        { ...payload, jti: 'x'.repeat(24) },
        testSecrets().sessionKeys[0]?.secret ?? Buffer.alloc(0),
      );
      expect(await verifier.verify(unissued)).toBeNull();
    });

    it('Tessera unreachable: verify() answers null and says so through onError', async () => {
      const { a, startB } = await start(startApp);
      const b = await startB();
      const { verifier, errors } = await verifierOf(a, b);
      const { token } = await login(a.app);
      await b.close();
      await waitUntil('the stream lost', () => !verifier.isLive);
      const before = errors.length;
      expect(await verifier.verify(token)).toBeNull();
      expect(errors.length).toBeGreaterThan(before);
      expect(errors.at(-1)?.message).not.toContain(token);
    });

    it('the stream cut by a restart while sessions are revoked: every answer stays correct', async () => {
      const { a, startB } = await start(startApp);
      const b = await startB();
      const port = Number(new URL(baseUrl(b)).port);
      const { verifier, counted } = await verifierOf(a, b);
      const [first, second, kept] = [await login(a.app), await login(a.app), await login(a.app)];
      for (const { token } of [first, second, kept]) expect(await verifier.verify(token)).not.toBeNull();

      await b.close();
      await waitUntil('the stream lost', () => !verifier.isLive);
      // Revoked while the verifier hears nothing: while B is down no answer is a "yes".
      await revoke(a, first.jti);
      await revoke(a, second.jti);
      for (const { token } of [first, second, kept]) expect(await verifier.verify(token)).toBeNull();

      await startB(port);
      // Back, before or after the stream is: a remembered session is asked about, never assumed.
      expect(await verifier.verify(first.token)).toBeNull();
      expect(await verifier.verify(kept.token)).toMatchObject({ jti: kept.jti });
      await waitUntil('the stream back', () => verifier.isLive);
      expect(await verifier.verify(first.token)).toBeNull();
      expect(await verifier.verify(second.token)).toBeNull();
      const requests = counted.sessionRequests;
      expect(await verifier.verify(kept.token)).toMatchObject({ jti: kept.jti });
      expect(counted.sessionRequests).toBe(requests);
    });

    it('while the stream is down (its API key revoked) every check asks Tessera: a revocation is refused at once', async () => {
      const { a, startB } = await start(startApp);
      const { verifier, counted, errors } = await verifierOf(a, await startB());
      const revoked = await login(a.app);
      const kept = await login(a.app);
      expect(await verifier.verify(revoked.token)).not.toBeNull();
      expect(await verifier.verify(kept.token)).not.toBeNull();
      const keys = (await a.app.inject({ url: '/api/admin/api-keys', headers: KEY })).json() as {
        data: { id: string }[];
      };
      for (const { id } of keys.data)
        await a.app.inject({ method: 'DELETE', url: `/api/admin/api-keys/${id}`, headers: KEY });
      await waitUntil('the stream lost', () => !verifier.isLive);
      expect((await revoke(a, revoked.jti)).statusCode).toBe(200);
      // No event can reach the verifier now: the answer comes from Tessera, on every call.
      expect(await verifier.verify(revoked.token)).toBeNull();
      const requests = counted.sessionRequests;
      expect(await verifier.verify(kept.token)).toMatchObject({ jti: kept.jti });
      expect(await verifier.verify(kept.token)).toMatchObject({ jti: kept.jti });
      expect(counted.sessionRequests).toBe(requests + 2);
      await waitUntil('the refused reconnect reported', () =>
        errors.some((error) => error.name === 'StreamRefusedError'),
      );
    });

    it('verifyRequest() reads the bearer header, else the tessera_session cookie', async () => {
      const { a, startB } = await start(startApp);
      const { verifier } = await verifierOf(a, await startB());
      const { token, jti } = await login(a.app);
      const url = 'http://app.example/admin';
      expect(await verifier.verifyRequest(new Request(url, { headers: bearer(token) }))).toMatchObject({
        jti,
      });
      expect(
        await verifier.verifyRequest(
          new Request(url, { headers: { cookie: `a=b; tessera_session=${token}` } }),
        ),
      ).toMatchObject({ jti });
      expect(await verifier.verifyRequest(new Request(url))).toBeNull();
      // A bearer header that is present decides, even beside a good cookie.
      expect(
        await verifier.verifyRequest(
          new Request(url, { headers: { authorization: 'Bearer nope', cookie: `tessera_session=${token}` } }),
        ),
      ).toBeNull();
    });
  });
}
