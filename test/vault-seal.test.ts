import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RandomSource } from '../src/clock.js';
import { ConfigError, TesseraError } from '../src/errors.js';
import { createKeyRing, openToken, sealToken } from '../src/vault/seal.js';

const K1 = { kid: 'k1', key: Buffer.alloc(32, 1) };
const K2 = { kid: 'k2', key: Buffer.alloc(32, 2) };
const ID = 'store_01KMMKXG00ZZZZZZZZZZZZZZZZ';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfOWEyZjMxIn0.signature';
const random: RandomSource = (size) => randomBytes(size);

/** Runs `fn` and returns what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('sealToken / openToken', () => {
  it('round-trips a token under the first key of the ring', () => {
    const ring = createKeyRing([K1, K2]);
    const sealed = sealToken(ring, ID, TOKEN, random);
    expect(sealed.kid).toBe('k1');
    expect(openToken(ring, ID, sealed)).toBe(TOKEN);
  });

  it('lays out AES-256-GCM as nonce || ciphertext || tag with the record id as associated data', () => {
    const nonce = Buffer.from('000102030405060708090a0b', 'hex');
    const sealed = sealToken(createKeyRing([K1]), ID, TOKEN, () => nonce).sealed;
    expect(sealed.length).toBe(12 + Buffer.byteLength(TOKEN) + 16);
    expect(sealed.subarray(0, 12).equals(nonce)).toBe(true);
    const decipher = createDecipheriv('aes-256-gcm', K1.key, nonce);
    decipher.setAAD(Buffer.from(ID));
    decipher.setAuthTag(sealed.subarray(-16));
    const clear = Buffer.concat([decipher.update(sealed.subarray(12, -16)), decipher.final()]);
    expect(clear.toString('utf8')).toBe(TOKEN);
  });

  it('asks the random source for a fresh 96-bit nonce each time', () => {
    const sizes: number[] = [];
    const ring = createKeyRing([K1]);
    const counting: RandomSource = (size) => {
      sizes.push(size);
      return randomBytes(size);
    };
    const a = sealToken(ring, ID, TOKEN, counting);
    const b = sealToken(ring, ID, TOKEN, counting);
    expect(sizes).toEqual([12, 12]);
    expect(a.sealed.equals(b.sealed)).toBe(false);
    expect(a.sealed.includes(Buffer.from(TOKEN))).toBe(false);
  });

  it('round-trips the empty string, any Unicode and the longest token', () => {
    const ring = createKeyRing([K1]);
    for (const token of ['', 'ключ-🔑-鍵', 'x'.repeat(16_384)]) {
      expect(openToken(ring, ID, sealToken(ring, ID, token, random))).toBe(token);
    }
  });

  it('opens what an older key sealed after rotation, and seals with the new first key', () => {
    const old = sealToken(createKeyRing([K1]), ID, TOKEN, random);
    const rotated = createKeyRing([K2, K1]);
    expect(openToken(rotated, ID, old)).toBe(TOKEN);
    expect(sealToken(rotated, ID, TOKEN, random).kid).toBe('k2');
  });

  it('names the record and the key when the key has left the ring', () => {
    const sealed = sealToken(createKeyRing([K1]), ID, TOKEN, random);
    const error = thrown(() => openToken(createKeyRing([K2]), ID, sealed));
    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({
      code: 'SEALING_KEY_MISSING',
      message: `Stored token ${ID} was sealed with key "k1", which is not in TOKEN_ENCRYPTION_KEYS`,
    });
  });

  it.each([
    ['a flipped ciphertext bit', (b: Buffer) => b.with(14, (b[14] as number) ^ 1)],
    ['a flipped nonce bit', (b: Buffer) => b.with(0, (b[0] as number) ^ 1)],
    ['a flipped tag bit', (b: Buffer) => b.with(b.length - 1, (b[b.length - 1] as number) ^ 1)],
    ['a truncated tag', (b: Buffer) => b.subarray(0, b.length - 1)],
    ['fewer bytes than a nonce and a tag', (b: Buffer) => b.subarray(0, 27)],
    ['no bytes at all', () => new Uint8Array(0)],
  ])('is TOKEN_UNREADABLE for %s, without the token in the error', (_name, alter) => {
    const ring = createKeyRing([K1]);
    const sealed = sealToken(ring, ID, TOKEN, random);
    const error = thrown(() => openToken(ring, ID, { ...sealed, sealed: Buffer.from(alter(sealed.sealed)) }));
    expect(error).toMatchObject({
      code: 'TOKEN_UNREADABLE',
      message: `Stored token ${ID} cannot be opened: it fails authentication (altered or damaged in storage)`,
    });
    expect(JSON.stringify(error)).not.toContain('eyJ');
  });

  it('is TOKEN_UNREADABLE under another record id or another key id of the ring', () => {
    const ring = createKeyRing([K1, K2]);
    const sealed = sealToken(ring, ID, TOKEN, random);
    expect(thrown(() => openToken(ring, 'store_01KMMKXG00ZZZZZZZZZZZZZZZY', sealed))).toMatchObject({
      code: 'TOKEN_UNREADABLE',
    });
    expect(thrown(() => openToken(ring, ID, { ...sealed, kid: 'k2' }))).toMatchObject({
      code: 'TOKEN_UNREADABLE',
    });
  });
});

describe('createKeyRing', () => {
  it.each([
    ['no key', [], 'TOKEN_ENCRYPTION_KEYS holds no key'],
    [
      'a 16-byte key',
      [{ kid: 'short', key: Buffer.alloc(16) }],
      'TOKEN_ENCRYPTION_KEYS key "short" must be 32 bytes',
    ],
    ['a key id twice', [K1, { ...K2, kid: 'k1' }], 'TOKEN_ENCRYPTION_KEYS lists key id "k1" twice'],
  ])('refuses %s at build time', (_name, keys, problem) => {
    const error = thrown(() => createKeyRing(keys));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([problem]);
  });
});
