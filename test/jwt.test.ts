import { describe, expect, it } from 'vitest';
import type { SessionClaims } from '../src/admin/jwt.js';
import { AUDIENCE, createSessionSigner, ISSUER } from '../src/admin/jwt.js';
import {
  b64url,
  decodeSegment,
  encodeJson,
  flippedSignature,
  hmacToken,
  nonCanonicalSignature,
  signRaw,
  withPayload,
} from './support/forge.js';
import { T0_SECONDS } from './support/time.js';

const SECRET = Buffer.alloc(32, 7);
const NOW = T0_SECONDS;
const CLAIMS: SessionClaims = { jti: 'AAAAbbbbCCCCdddd0123-_', iat: NOW, exp: NOW + 3600, v: 3 };
const signer = createSessionSigner([{ kid: null, secret: SECRET }]);
const token = signer.sign(CLAIMS);
const header = () => decodeSegment(token, 0);
const payload = () => decodeSegment(token, 1);
/** The payload's JSON text exactly as signed. */
const rawPayload = () => Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8');

describe('createSessionSigner', () => {
  it('refuses a secret shorter than 32 bytes at build time', () => {
    expect(() => createSessionSigner([{ kid: null, secret: Buffer.alloc(31) }])).toThrow(/at least 32 bytes/);
    expect(() => createSessionSigner([{ kid: null, secret: Buffer.alloc(32) }])).not.toThrow();
  });

  it('the kid is derived from the secret: same secret, same kid; another secret, another kid', () => {
    expect(createSessionSigner([{ kid: null, secret: Buffer.alloc(32, 7) }]).kid).toBe(signer.kid);
    expect(createSessionSigner([{ kid: null, secret: Buffer.alloc(32, 8) }]).kid).not.toBe(signer.kid);
    expect(signer.kid).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });

  it('the kid does not reveal the secret', () => {
    expect(signer.kid).not.toContain(SECRET.toString('base64url').slice(0, 8));
  });
});

describe('a ring of keys (AUTH_SECRETS)', () => {
  const k1 = { kid: 'k1', secret: Buffer.alloc(32, 1) };
  const k2 = { kid: 'k2', secret: Buffer.alloc(32, 2) };
  const before = createSessionSigner([k1]);
  const during = createSessionSigner([k2, k1]);
  const after = createSessionSigner([k2]);

  it('signs with the first key and names it in the header', () => {
    expect(during.kid).toBe('k2');
    expect(decodeSegment(during.sign(CLAIMS), 0)).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k2' });
  });

  it('sessions signed with an older key of the ring keep verifying, until it leaves the ring', () => {
    const old = before.sign(CLAIMS);
    expect(during.verify(old, NOW)).toEqual(CLAIMS);
    expect(after.verify(old, NOW)).toBeNull();
    expect(after.verify(during.sign(CLAIMS), NOW)).toEqual(CLAIMS);
  });

  it('moving from AUTH_SECRET: a ring with it last (derived kid) verifies the sessions it signed', () => {
    const legacy = createSessionSigner([{ kid: null, secret: SECRET }]);
    const moving = createSessionSigner([k2, { kid: null, secret: SECRET }]);
    expect(moving.verify(legacy.sign(CLAIMS), NOW)).toEqual(CLAIMS);
    expect(moving.kid).toBe('k2');
  });

  it('a header naming one kid with the signature of another key is refused', () => {
    const [, body] = before.sign(CLAIMS).split('.');
    const k2Header = during.sign(CLAIMS).split('.')[0];
    expect(during.verify(signRaw(`${k2Header}.${body}`, k1.secret), NOW)).toBeNull();
  });

  it('refuses a ring with the same kid twice, or no key at all, at build time', () => {
    expect(() => createSessionSigner([k1, { kid: 'k1', secret: Buffer.alloc(32, 9) }])).toThrow(/twice/);
    expect(() => createSessionSigner([])).toThrow(/empty/);
  });
});

describe('sign', () => {
  it('writes an HS256 header with typ JWT and the kid', () => {
    expect(header()).toEqual({ alg: 'HS256', typ: 'JWT', kid: signer.kid });
  });

  it('writes jti, iat, exp, v, iss and aud, nothing else', () => {
    expect(payload()).toEqual({ ...CLAIMS, iss: ISSUER, aud: AUDIENCE });
  });

  it('is three base64url segments with a 43-character signature', () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  it('is deterministic for the same claims and secret', () => {
    expect(signer.sign(CLAIMS)).toBe(token);
  });

  it('drops extra properties passed in the claims object', () => {
    const extra = { ...CLAIMS, admin: true } as SessionClaims;
    expect(decodeSegment(signer.sign(extra), 1)).not.toHaveProperty('admin');
  });
});

describe('verify', () => {
  it('returns exactly the four claims of a genuine token', () => {
    expect(signer.verify(token, NOW)).toEqual(CLAIMS);
  });

  it('accepts a token one second before exp and refuses it at exp', () => {
    expect(signer.verify(token, CLAIMS.exp - 1)).toEqual(CLAIMS);
    expect(signer.verify(token, CLAIMS.exp)).toBeNull();
    expect(signer.verify(token, CLAIMS.exp + 86_400)).toBeNull();
  });

  it('a signer with the same secret verifies (a restart or another instance)', () => {
    expect(createSessionSigner([{ kid: null, secret: Buffer.alloc(32, 7) }]).verify(token, NOW)).toEqual(
      CLAIMS,
    );
  });

  it('a signer with another secret refuses', () => {
    expect(createSessionSigner([{ kid: null, secret: Buffer.alloc(32, 8) }]).verify(token, NOW)).toBeNull();
  });

  const refused: [string, () => string][] = [
    [
      'alg none, empty signature',
      () => `${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(payload())}.`,
    ],
    [
      'alg none with the real kid',
      () => `${encodeJson({ ...header(), alg: 'none' })}.${encodeJson(payload())}.`,
    ],
    [
      'alg HS512 signed with the secret',
      () => hmacToken({ ...header(), alg: 'HS512' }, payload(), SECRET, 'sha512'),
    ],
    [
      'alg RS256 HMAC-signed with the secret',
      () => hmacToken({ ...header(), alg: 'RS256' }, payload(), SECRET),
    ],
    [
      'an unknown kid signed with the secret',
      () => hmacToken({ ...header(), kid: 'unknown' }, payload(), SECRET),
    ],
    ['no kid signed with the secret', () => hmacToken({ alg: 'HS256', typ: 'JWT' }, payload(), SECRET)],
    [
      'header keys reordered, signed with the secret',
      () => hmacToken({ kid: signer.kid, typ: 'JWT', alg: 'HS256' }, payload(), SECRET),
    ],
    [
      'a crit header, signed with the secret',
      () => hmacToken({ ...header(), crit: ['b64'] }, payload(), SECRET),
    ],
    ['our header signed with another secret', () => hmacToken(header(), payload(), Buffer.alloc(32, 8))],
    ['v bumped, original signature', () => withPayload(token, { ...payload(), v: 4 })],
    ['exp extended, original signature', () => withPayload(token, { ...payload(), exp: NOW + 999_999 })],
    ['one flipped signature bit', () => flippedSignature(token)],
    ['a non-canonical signature encoding', () => nonCanonicalSignature(token)],
    ['a padded signature', () => `${token}=`],
    ['a signature with a character outside base64url', () => `${token.slice(0, -1)}+`],
    ['a missing signature', () => token.slice(0, token.lastIndexOf('.'))],
    ['an extra segment', () => `${token}.AAAA`],
    ['whitespace around it', () => ` ${token}`],
    ['a foreign issuer (signed)', () => hmacToken(header(), { ...payload(), iss: 'other' }, SECRET)],
    ['a foreign audience (signed)', () => hmacToken(header(), { ...payload(), aud: 'other' }, SECRET)],
    ['an audience array (signed)', () => hmacToken(header(), { ...payload(), aud: [AUDIENCE] }, SECRET)],
    ['a string exp (signed)', () => hmacToken(header(), { ...payload(), exp: String(NOW + 3600) }, SECRET)],
    ['a fractional exp (signed)', () => hmacToken(header(), { ...payload(), exp: NOW + 3600.5 }, SECRET)],
    ['a missing v (signed)', () => hmacToken(header(), { ...payload(), v: undefined }, SECRET)],
    ['iat after exp (signed)', () => hmacToken(header(), { ...payload(), iat: NOW + 7200 }, SECRET)],
    ['a jti too short (signed)', () => hmacToken(header(), { ...payload(), jti: 'short' }, SECRET)],
    [
      'a jti with bad characters (signed)',
      () => hmacToken(header(), { ...payload(), jti: 'AAAAbbbbCCCC/ddd0123' }, SECRET),
    ],
    [
      'a payload that is not JSON (signed)',
      () => signRaw(`${token.split('.')[0]}.${Buffer.from('{x').toString('base64url')}`, SECRET),
    ],
    ['a payload that is JSON null (signed)', () => hmacToken(header(), null, SECRET)],
    [
      'a payload repeating v, the genuine value last (signed)',
      () => signRaw(`${token.split('.')[0]}.${b64url(rawPayload().replace('"v":3', '"v":4,"v":3'))}`, SECRET),
    ],
    [
      'a payload repeating jti, the genuine value last (signed)',
      () =>
        signRaw(
          `${token.split('.')[0]}.${b64url(rawPayload().replace('{', '{"jti":"ZZZZyyyyXXXXwwww9876",'))}`,
          SECRET,
        ),
    ],
    [
      'a payload with an extra claim (signed)',
      () => hmacToken(header(), { ...payload(), admin: true }, SECRET),
    ],
    [
      'a payload with nbf in the future (signed)',
      () => hmacToken(header(), { ...payload(), nbf: NOW + 3600 }, SECRET),
    ],
    [
      'a payload with its members reordered (signed)',
      () => {
        const { aud, iss, v, exp, iat, jti } = payload();
        return hmacToken(header(), { aud, iss, v, exp, iat, jti }, SECRET);
      },
    ],
    [
      'a payload with whitespace (signed)',
      () => signRaw(`${token.split('.')[0]}.${b64url(JSON.stringify(payload(), null, 1))}`, SECRET),
    ],
    [
      'a payload spelling iat with a zero fraction, 123.0 (signed)',
      () =>
        signRaw(
          `${token.split('.')[0]}.${b64url(rawPayload().replace(`"iat":${NOW}`, `"iat":${NOW}.0`))}`,
          SECRET,
        ),
    ],
    ['an empty string', () => ''],
    ['garbage', () => 'not a token'],
    ['dots only', () => '..'],
    ['a token over 2 KB', () => `${token}${'A'.repeat(2048)}`],
    ['a 10 KB token', () => 'A'.repeat(10 * 1024)],
  ];

  it.each(refused)('refuses %s (null, no throw)', (_name, make) => {
    expect(signer.verify(make(), NOW)).toBeNull();
  });

  it('a token rebuilt from its own header and payload with the secret is accepted (control for the table)', () => {
    expect(signer.verify(hmacToken(header(), payload(), SECRET), NOW)).toEqual(CLAIMS);
  });
});
