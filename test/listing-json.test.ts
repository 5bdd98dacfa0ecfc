import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toRfc3339 } from '../src/clock.js';
import { listingJson } from '../src/vault/listing-json.js';
import { Listing } from '../src/vault/schemas.js';
import type { StoredTokenSummary } from '../src/vault/vault.js';

/** The route's Listing schema, serialised as Fastify would without listingJson. */
const bySchema = SerializerSelector()({}, undefined)({
  schema: Listing,
  method: 'GET',
  url: '/',
  httpStatus: '200',
});

/** Any UTF-16 string: quotes, backslashes, control characters, lone and paired surrogates. */
const anyText = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
});
const instant = fc.integer({ min: 0, max: 253_402_300_799_999 });
const summary: fc.Arbitrary<StoredTokenSummary> = fc.record({
  id: fc.oneof(anyText, fc.constant('store_01KBC0000000000000000000AB')),
  userId: fc.oneof(anyText, fc.string({ unit: 'binary' })),
  preview: fc.oneof(anyText, fc.string({ unit: 'grapheme' })),
  expiresAtMs: instant,
  isValid: fc.boolean(),
  savedAtMs: instant,
});
const count = fc.nat({ max: 1_000_000_000 });

describe('listing JSON', () => {
  it('is the text the Listing schema serialises, on arbitrary summaries', () => {
    fc.assert(
      fc.property(fc.array(summary, { maxLength: 8 }), count, count, count, (items, page, limit, total) => {
        const written = listingJson(items, { page, limit, total });
        const data = items.map((item) => ({
          id: item.id,
          user_id: item.userId,
          token_preview: item.preview,
          expires_at: toRfc3339(item.expiresAtMs),
          is_valid: item.isValid,
          saved_at: toRfc3339(item.savedAtMs),
        }));
        expect(written).toBe(bySchema({ data, pagination: { page, limit, total } }));
        expect(JSON.parse(written)).toEqual({ data, pagination: { page, limit, total } });
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes an empty page as an empty array', () => {
    expect(listingJson([], { page: 3, limit: 50, total: 101 })).toBe(
      '{"data":[],"pagination":{"page":3,"limit":50,"total":101}}',
    );
  });

  it('refuses a pagination figure that is not a whole number rather than write it', () => {
    expect(() => listingJson([], { page: 1.5, limit: 50, total: 0 })).toThrow(TypeError);
    expect(() => listingJson([], { page: 1, limit: 50, total: Number.NaN })).toThrow(TypeError);
  });
});
