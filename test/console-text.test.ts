import { describe, expect, it } from 'vitest';
import { describeError, formatDuration, retryMessage } from '../console/src/api.js';
import { describeUserAgent, relativeTime } from '../console/src/format.js';
import { TesseraApiError } from '../src/client/index.js';

describe('the console says what went wrong in words', () => {
  it('a 429 says when to try again, from Retry-After', () => {
    const error = new TesseraApiError(429, 'RATE_LIMITED', 'Too many attempts', [], 75);
    expect(describeError(error)).toMatch(
      /^Too many failed attempts from this address\. Try again in 1 min 15 s \(at .+\)\.$/,
    );
    expect(retryMessage(null)).toBe('Too many failed attempts from this address. Try again later.');
  });

  it('a store that is down says so', () => {
    const error = new TesseraApiError(503, 'STORE_UNAVAILABLE', 'Store unavailable');
    expect(describeError(error)).toBe(
      'Tessera cannot reach its store (database) right now. Nothing was changed; try again in a moment.',
    );
  });

  it('no answer at all says Tessera cannot be reached', () => {
    expect(describeError(new TesseraApiError(0, 'NETWORK_ERROR', 'fetch failed'))).toBe(
      'Tessera cannot be reached. Check that it is running, then try again.',
    );
  });

  it("any other refusal is the server's message, with the fields that failed", () => {
    expect(describeError(new TesseraApiError(401, 'INVALID_ADMIN_KEY', 'Invalid admin key'))).toBe(
      'Invalid admin key',
    );
    const invalid = new TesseraApiError(400, 'VALIDATION_FAILED', 'Invalid request', [
      { field: 'body.name', message: 'is required' },
    ]);
    expect(describeError(invalid)).toBe('Invalid request: body.name is required');
  });
});

describe('the console writes times and user agents for people', () => {
  it('durations and relative times', () => {
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(3600 * 23 + 59 * 60)).toBe('23 h 59 min');
    expect(formatDuration(86_400 * 2)).toBe('2 d');
    expect(relativeTime(1_000_000 + 300_000, 1_000_000)).toBe('in 5 min');
    expect(relativeTime(1_000_000 - 90_000, 1_000_000)).toBe('1 min 30 s ago');
    expect(relativeTime(1_000_000 + 2000, 1_000_000)).toBe('now');
  });

  it('browser and system from a user agent', () => {
    expect(
      describeUserAgent(
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
      ),
    ).toBe('Edge 131 on Windows');
    expect(
      describeUserAgent(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
      ),
    ).toBe('Safari 18 on iOS');
    expect(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe(
      'Firefox 128 on Linux',
    );
    expect(describeUserAgent('curl/8.5.0')).toBe('curl 8.5.0');
    expect(describeUserAgent(null)).toBe('unknown');
    expect(describeUserAgent('some-agent/1')).toBe('some-agent/1');
  });
});
