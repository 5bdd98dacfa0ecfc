import type { FastifyInstance, HTTPMethods } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SessionClaims } from '../../src/admin/jwt.js';
import { AUDIENCE, createSessionSigner, ISSUER } from '../../src/admin/jwt.js';
import { secondsFromMs } from '../../src/clock.js';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, bearer, login, sessionCookie, testSecrets } from '../support/app.js';
import {
  b64url,
  decodeSegment,
  encodeJson,
  flippedSignature,
  hmacToken,
  nonCanonicalSignature,
  signRaw,
  withPayload,
} from '../support/forge.js';
import { registeredRoutes, takesCredential, urlOf } from '../support/routes.js';
import { T0 } from '../support/time.js';
import type { AdminApiHarness } from './harness.js';
import { expectUnauthorized, HOUR_MS, UNAUTHORIZED } from './harness.js';

const KEY = { 'x-admin-key': ADMIN_KEY };

export interface Issued {
  token: string;
  jti: string;
}

const realSecret = () => (testSecrets().sessionKeys[0] as { secret: Buffer }).secret;
const otherSecret = Buffer.alloc(32, 9);
const realSigner = () => createSessionSigner([{ kid: null, secret: realSecret() }]);

/** The claims of a real session, as a forger would copy them out of its token. */
const claimsOf = (issued: Issued) => decodeSegment(issued.token, 1);
const sessionClaimsOf = (issued: Issued): SessionClaims => {
  const { jti, iat, exp, v } = claimsOf(issued);
  return { jti: String(jti), iat: Number(iat), exp: Number(exp), v: Number(v) };
};

/** The payload's JSON text exactly as Tessera signed it. */
const rawPayloadOf = (issued: Issued) =>
  Buffer.from(issued.token.split('.')[1] ?? '', 'base64url').toString('utf8');
/** The session's claims without `names`, signed with the real secret under Tessera's header. */
function realSignedWithout(issued: Issued, ...names: string[]): string {
  const claims = claimsOf(issued);
  for (const name of names) delete claims[name];
  return hmacToken(decodeSegment(issued.token, 0), claims, realSecret());
}

/**
 * Tokens Tessera must refuse, each built from a real session's token: the JWT attack corpus
 * (alg none and confusion, kid injection, tampered parts, validly signed tokens that do not
 * match their session, oversized and malformed ones). Exported for the fuzz suite.
 */
export const FORGERIES: [string, (issued: Issued) => string][] = [
  [
    'alg none, empty signature',
    (s) => `${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(claimsOf(s))}.`,
  ],
  ['alg none, no signature segment', (s) => `${encodeJson({ alg: 'none' })}.${encodeJson(claimsOf(s))}`],
  [
    'alg none with the real kid and signature',
    (s) => {
      const { kid } = decodeSegment(s.token, 0);
      const [, payload, signature] = s.token.split('.');
      return `${encodeJson({ alg: 'none', typ: 'JWT', kid })}.${payload}.${signature}`;
    },
  ],
  [
    'alg HS512 signed with the real secret',
    (s) =>
      hmacToken({ alg: 'HS512', typ: 'JWT', kid: realSigner().kid }, claimsOf(s), realSecret(), 'sha512'),
  ],
  [
    'alg RS256 header, HMAC-signed with the real secret (key confusion)',
    (s) => hmacToken({ alg: 'RS256', typ: 'JWT', kid: realSigner().kid }, claimsOf(s), realSecret()),
  ],
  [
    'alg None (capitalised), empty signature',
    (s) => `${encodeJson({ alg: 'None', typ: 'JWT' })}.${encodeJson(claimsOf(s))}.`,
  ],
  [
    'alg ES256 header, HMAC-signed with the real secret (key confusion)',
    (s) => hmacToken({ alg: 'ES256', typ: 'JWT', kid: realSigner().kid }, claimsOf(s), realSecret()),
  ],
  [
    'alg hs256 in lower case, signed with the real secret',
    (s) => hmacToken({ alg: 'hs256', typ: 'JWT', kid: realSigner().kid }, claimsOf(s), realSecret()),
  ],
  [
    'kid path traversal to /dev/null, signed with an empty key',
    (s) =>
      hmacToken(
        { alg: 'HS256', typ: 'JWT', kid: '../../../../../../dev/null' },
        claimsOf(s),
        Buffer.alloc(0),
      ),
  ],
  [
    'kid path traversal, signed with the real secret',
    (s) => hmacToken({ alg: 'HS256', typ: 'JWT', kid: `../${realSigner().kid}` }, claimsOf(s), realSecret()),
  ],
  [
    'kid SQL injection, signed with the real secret',
    (s) => hmacToken({ alg: 'HS256', typ: 'JWT', kid: "x' OR '1'='1" }, claimsOf(s), realSecret()),
  ],
  [
    "an embedded jwk header carrying the forger's key, signed with it",
    (s) =>
      hmacToken(
        { alg: 'HS256', typ: 'JWT', kid: realSigner().kid, jwk: { kty: 'oct', k: b64url(otherSecret) } },
        claimsOf(s),
        otherSecret,
      ),
  ],
  [
    'a jku header pointing elsewhere, signed with the real secret',
    (s) =>
      hmacToken(
        { ...decodeSegment(s.token, 0), jku: 'http://127.0.0.1:1/jwks.json' },
        claimsOf(s),
        realSecret(),
      ),
  ],
  [
    "Tessera's header with its members reordered, signed with the real secret",
    (s) => hmacToken({ kid: realSigner().kid, typ: 'JWT', alg: 'HS256' }, claimsOf(s), realSecret()),
  ],
  [
    "Tessera's header with whitespace, signed with the real secret",
    (s) =>
      signRaw(
        `${b64url(JSON.stringify(decodeSegment(s.token, 0), null, 1))}.${s.token.split('.')[1]}`,
        realSecret(),
      ),
  ],
  [
    'payload with v bumped, original signature',
    (s) => withPayload(s.token, { ...claimsOf(s), v: sessionClaimsOf(s).v + 1 }),
  ],
  [
    'payload naming another jti, original signature',
    (s) => withPayload(s.token, { ...claimsOf(s), jti: 'AAAAAAAAAAAAAAAAAAAAAAAA' }),
  ],
  [
    'the header of another token and the payload of this one, original signature',
    (s) =>
      `${hmacToken({ alg: 'HS256', typ: 'JWT' }, {}, otherSecret).split('.')[0]}.${s.token.split('.').slice(1).join('.')}`,
  ],
  [
    'payload with exp extended, original signature',
    (s) => withPayload(s.token, { ...claimsOf(s), exp: sessionClaimsOf(s).exp + 86_400 }),
  ],
  ['one flipped signature bit', (s) => flippedSignature(s.token)],
  [
    'a non-canonical signature (unused low bits of the last character set)',
    (s) => nonCanonicalSignature(s.token),
  ],
  ['signature removed', (s) => s.token.slice(0, s.token.lastIndexOf('.') + 1)],
  [
    'signed with another secret',
    (s) => createSessionSigner([{ kid: null, secret: otherSecret }]).sign(sessionClaimsOf(s)),
  ],
  [
    "Tessera's exact header, signed with another secret",
    (s) => hmacToken(decodeSegment(s.token, 0), claimsOf(s), otherSecret),
  ],
  [
    'an unknown kid, signed with the real secret',
    (s) => hmacToken({ alg: 'HS256', typ: 'JWT', kid: 'other-key' }, claimsOf(s), realSecret()),
  ],
  [
    'no kid, signed with the real secret',
    (s) => hmacToken({ alg: 'HS256', typ: 'JWT' }, claimsOf(s), realSecret()),
  ],
  [
    'a header with crit, signed with the real secret',
    (s) => hmacToken({ ...decodeSegment(s.token, 0), crit: ['exp'] }, claimsOf(s), realSecret()),
  ],
  [
    'a validly signed token for a jti never issued',
    () => {
      const iat = secondsFromMs(T0);
      return realSigner().sign({ jti: 'neverIssuedJti_0123456789', iat, exp: iat + 3600, v: 1 });
    },
  ],
  [
    'a validly signed token with the wrong version for its session',
    (s) => realSigner().sign({ ...sessionClaimsOf(s), v: sessionClaimsOf(s).v + 1 }),
  ],
  [
    'a validly signed token with another exp than its session',
    (s) => realSigner().sign({ ...sessionClaimsOf(s), exp: sessionClaimsOf(s).exp + 3600 }),
  ],
  [
    'a validly signed token with iat an hour in the future (not yet valid)',
    (s) => realSigner().sign({ ...sessionClaimsOf(s), iat: sessionClaimsOf(s).iat + 3600 }),
  ],
  [
    'a validly signed token with another iat than its session (earlier)',
    (s) => realSigner().sign({ ...sessionClaimsOf(s), iat: sessionClaimsOf(s).iat - 60 }),
  ],
  [
    'a validly signed token that expired an hour ago',
    (s) => {
      const iat = sessionClaimsOf(s).iat;
      return realSigner().sign({ ...sessionClaimsOf(s), iat: iat - 7200, exp: iat - 3600 });
    },
  ],
  [
    'a validly signed token with iat after exp',
    (s) => realSigner().sign({ ...sessionClaimsOf(s), iat: sessionClaimsOf(s).exp + 1 }),
  ],
  [
    'a validly signed payload repeating v (a bumped one first, the real one last)',
    (s) =>
      signRaw(
        `${s.token.split('.')[0]}.${b64url(rawPayloadOf(s).replace(/"v":(\d+)/, '"v":99,"v":$1'))}`,
        realSecret(),
      ),
  ],
  [
    'a validly signed payload repeating jti (another one first, the real one last)',
    (s) =>
      signRaw(
        `${s.token.split('.')[0]}.${b64url(rawPayloadOf(s).replace('{', '{"jti":"AAAAAAAAAAAAAAAAAAAAAAAA",'))}`,
        realSecret(),
      ),
  ],
  [
    'a validly signed payload repeating exp (a later one last)',
    (s) =>
      signRaw(
        `${s.token.split('.')[0]}.${b64url(rawPayloadOf(s).replace('}', `,"exp":${sessionClaimsOf(s).exp + 86_400}}`))}`,
        realSecret(),
      ),
  ],
  [
    'a validly signed token with nbf in the future',
    (s) =>
      hmacToken(
        decodeSegment(s.token, 0),
        { ...claimsOf(s), nbf: sessionClaimsOf(s).iat + 3600 },
        realSecret(),
      ),
  ],
  [
    'a validly signed token with an extra claim',
    (s) => hmacToken(decodeSegment(s.token, 0), { ...claimsOf(s), role: 'owner' }, realSecret()),
  ],
  ['a validly signed token with no iss and no aud', (s) => realSignedWithout(s, 'iss', 'aud')],
  [
    'a validly signed token with the audience as an array',
    (s) => hmacToken(decodeSegment(s.token, 0), { ...claimsOf(s), aud: [AUDIENCE] }, realSecret()),
  ],
  [
    'a validly signed token with a foreign issuer',
    (s) => hmacToken(decodeSegment(s.token, 0), { ...claimsOf(s), iss: 'someone-else' }, realSecret()),
  ],
  [
    'a validly signed token with a foreign audience',
    (s) => hmacToken(decodeSegment(s.token, 0), { ...claimsOf(s), aud: 'tessera-user' }, realSecret()),
  ],
  [
    'a validly signed token with string claims',
    (s) => {
      const c = claimsOf(s);
      return hmacToken(decodeSegment(s.token, 0), { ...c, exp: String(c.exp), v: '1' }, realSecret());
    },
  ],
  [
    'a validly signed token whose payload is not JSON',
    (s) => signRaw(`${s.token.split('.')[0]}.${b64url('{not json')}`, realSecret()),
  ],
  ['garbage text', () => 'garbage'],
  ['three dots', () => '...'],
  ['JWT-shaped garbage', () => 'aaaa.bbbb.cccc'],
  ['the token twice', (s) => `${s.token}${s.token}`],
  ['a 10 KB token', () => 'A'.repeat(10 * 1024)],
  ['a 1 MB token', () => 'A'.repeat(1024 * 1024)],
  [
    'a validly signed token padded past 2 KB with whitespace (oversized)',
    (s) =>
      signRaw(`${s.token.split('.')[0]}.${b64url(`${rawPayloadOf(s)}${' '.repeat(2048)}`)}`, realSecret()),
  ],
  ['four segments', (s) => `${s.token}.${s.token.split('.')[2]}`],
  [
    'an empty payload segment, signed with the real secret',
    (s) => signRaw(`${s.token.split('.')[0]}.`, realSecret()),
  ],
  [
    'a 10 KB JWT-shaped token',
    (s) => `${s.token.split('.')[0]}.${'B'.repeat(10 * 1024)}.${s.token.split('.')[2]}`,
  ],
];

/** The global session version, read with the admin key. */
export async function sessionVersion(app: FastifyInstance): Promise<number> {
  const response = await app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
  return (response.json() as { currentTokenVersion: number }).currentTokenVersion;
}

/**
 * One request for every route that takes a credential, read from the app (a route added later
 * is included): `:jti` is the real session's, `:id` a real stored token's, so a forged token
 * that got in would change something the test can see.
 */
async function credentialUrls(
  app: FastifyInstance,
  issued: Issued,
): Promise<{ method: HTTPMethods; url: string }[]> {
  const stored = await app.inject({
    method: 'POST',
    url: '/api/v1/session-storage',
    headers: KEY,
    payload: { user_id: 'usr_corpus', token: 'stored-token-0123456789', expires_at: '2026-03-27T08:00:00Z' },
  });
  expect(stored.statusCode).toBe(201);
  const params = { jti: issued.jti, id: (stored.json() as { id: string }).id };
  return (await registeredRoutes(app))
    .filter(takesCredential)
    .map((route) => ({ method: route.method, url: urlOf(route, params) }));
}

/** Asserts `token` is refused on every route that takes a credential, as bearer and as cookie. */
export async function expectRefusedEverywhere(
  app: FastifyInstance,
  issued: Issued,
  token: string,
): Promise<void> {
  const urls = await credentialUrls(app, issued);
  expect(urls.length).toBeGreaterThan(20);
  for (const url of urls) {
    for (const headers of [bearer(token), sessionCookie(token)]) {
      const response = await app.inject({ ...url, headers });
      expect(response.statusCode, `${url.method} ${url.url} as ${Object.keys(headers)[0]}`).toBe(401);
      if (url.method !== 'HEAD') expect(response.json()).toEqual(UNAUTHORIZED);
    }
  }
}

/** Ways a genuine session ends; each hands back the app to present the token to afterwards. */
const ENDINGS: [string, (t: TestApp, ended: Issued) => Promise<FastifyInstance>][] = [
  [
    'revoked by DELETE /tokens/sessions/:jti',
    async (t, ended) => {
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${ended.jti}`,
        headers: KEY,
      });
      expect(response.statusCode).toBe(200);
      return t.app;
    },
  ],
  [
    'logged out',
    async (t, ended) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/logout',
        headers: bearer(ended.token),
      });
      expect(response.json()).toMatchObject({ revoked: true });
      return t.app;
    },
  ],
  [
    "revoked by another session's revoke-others",
    async (t) => {
      const other = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: bearer(other.token),
      });
      expect(response.json()).toMatchObject({ revoked: 1 });
      return t.app;
    },
  ],
  [
    'invalidated by revoke-all',
    async (t) => {
      expect(
        (await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY })).statusCode,
      ).toBe(200);
      return t.app;
    },
  ],
  [
    'expired',
    async (t) => {
      t.clock.advance(24 * HOUR_MS);
      return t.app;
    },
  ],
  [
    'signed with a retired secret (the deployment restarted with a new AUTH_SECRET: a revoked kid)',
    async (t) =>
      t.anotherApp({ secrets: { ...testSecrets(), sessionKeys: [{ kid: null, secret: otherSecret }] } }),
  ],
];

export function forgedTokenTests(h: AdminApiHarness): void {
  describe('a session that ended is 401 everywhere, as bearer and as cookie', () => {
    it.each(ENDINGS)('a session %s', async (_name, end) => {
      const t = await h.start();
      const ended = await login(t.app);
      expect(
        (await t.app.inject({ url: '/api/admin/session', headers: bearer(ended.token) })).statusCode,
      ).toBe(200);
      const app = await end(t, ended);
      await expectRefusedEverywhere(app, ended, ended.token);
    });
  });

  describe('forged, tampered and expired tokens are 401, never 5xx', () => {
    let t: TestApp;
    let issued: Issued;
    beforeEach(async () => {
      t = await h.start();
      issued = await login(t.app);
    });

    it('the genuine token works (control)', async () => {
      const response = await t.app.inject({ url: '/api/admin/session', headers: bearer(issued.token) });
      expect(response.statusCode).toBe(200);
    });

    // One test per forgery (each test starts an app): the session check, as bearer and as
    // cookie, and revoke-all, the most harmful call a forged token could make.
    it.each(FORGERIES)(
      'a token with %s is 401 as bearer and as cookie, and cannot revoke all sessions',
      async (_name, forge) => {
        const forged = forge(issued);
        expect(forged).not.toBe(issued.token);
        for (const headers of [bearer(forged), sessionCookie(forged)]) {
          expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers }));
          expectUnauthorized(
            await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers }),
          );
        }
      },
    );

    it('a bearer token one second before its exp still works', async () => {
      t.clock.advance(24 * HOUR_MS - 1000);
      const response = await t.app.inject({ url: '/api/admin/session', headers: bearer(issued.token) });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ expiresIn: 1 });
    });

    it('a bearer token at its exp is 401 (exp is checked against the injected clock)', async () => {
      t.clock.advance(24 * HOUR_MS);
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: bearer(issued.token) }));
    });

    it('a bearer token used before and after its exp: 200 then 401', async () => {
      expect(
        (await t.app.inject({ url: '/api/admin/session', headers: bearer(issued.token) })).statusCode,
      ).toBe(200);
      t.clock.advance(24 * HOUR_MS + 1000);
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: bearer(issued.token) }));
    });

    it('a session cookie past its exp is 401', async () => {
      t.clock.advance(25 * HOUR_MS);
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: sessionCookie(issued.token) }),
      );
    });

    it('after revoke-all, re-signing an old session with the new version does not revive it', async () => {
      await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      const resigned = realSigner().sign({ ...sessionClaimsOf(issued), v: 2 });
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: bearer(resigned) }));
    });

    it('the issuer and audience of a genuine token are Tessera', () => {
      expect(claimsOf(issued)).toMatchObject({ iss: ISSUER, aud: AUDIENCE });
    });
  });
}
