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
import { T0 } from '../support/time.js';
import type { AdminApiHarness } from './harness.js';
import { expectUnauthorized, HOUR_MS } from './harness.js';

interface Issued {
  token: string;
  jti: string;
}

const realSecret = () => testSecrets().authSecret;
const otherSecret = Buffer.alloc(32, 9);
const realSigner = () => createSessionSigner(realSecret());

/** The claims of a real session, as a forger would copy them out of its token. */
const claimsOf = (issued: Issued) => decodeSegment(issued.token, 1);
const sessionClaimsOf = (issued: Issued): SessionClaims => {
  const { jti, iat, exp, v } = claimsOf(issued);
  return { jti: String(jti), iat: Number(iat), exp: Number(exp), v: Number(v) };
};

/** Tokens Tessera must refuse, each built from a real session's token. */
const FORGERIES: [string, (issued: Issued) => string][] = [
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
  ['payload with v bumped, original signature', (s) => withPayload(s.token, { ...claimsOf(s), v: 2 })],
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
  ['signed with another secret', (s) => createSessionSigner(otherSecret).sign(sessionClaimsOf(s))],
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
    (s) => realSigner().sign({ ...sessionClaimsOf(s), v: 2 }),
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
  [
    'a 10 KB JWT-shaped token',
    (s) => `${s.token.split('.')[0]}.${'B'.repeat(10 * 1024)}.${s.token.split('.')[2]}`,
  ],
];

export function forgedTokenTests(h: AdminApiHarness): void {
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

    it.each(FORGERIES)('a bearer token with %s is 401', async (_name, forge) => {
      const forged = forge(issued);
      expect(forged).not.toBe(issued.token);
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: bearer(forged) }));
    });

    it.each(FORGERIES)('a session cookie with %s is 401', async (_name, forge) => {
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: sessionCookie(forge(issued)) }),
      );
    });

    it.each(FORGERIES)('a token with %s cannot revoke all sessions', async (_name, forge) => {
      expectUnauthorized(
        await t.app.inject({
          method: 'POST',
          url: '/api/admin/tokens/revoke',
          headers: bearer(forge(issued)),
        }),
      );
    });

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
