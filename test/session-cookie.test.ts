import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSessionCookie } from '../src/http/session-cookie.js';

describe('readSessionCookie', () => {
  it.each([
    ['tessera_session=abc.def-ghi_j', 'abc.def-ghi_j'],
    ['theme=dark; tessera_session=tok; lang=en', 'tok'],
    ['theme=dark;tessera_session=tok;lang=en', 'tok'],
    ['  tessera_session =  tok  ; x=1', 'tok'],
    // The first pair of the name wins, as browsers send the most specific cookie first.
    ['tessera_session=first; tessera_session=second', 'first'],
    ['tessera_session=; tessera_session=second', ''],
    ['tessera_session="quoted"', 'quoted'],
    ['tessera_session=a%2Eb', 'a.b'],
    // Not valid percent-encoding: kept as sent.
    ['tessera_session=a%E0%A4%A', 'a%E0%A4%A'],
    ['tessera_session=a=b', 'a=b'],
  ])('%j -> %j', (header, value) => {
    expect(readSessionCookie(header)).toBe(value);
  });

  it.each([
    '',
    'theme=dark; other=1',
    'tessera_sessionx=tok',
    'xtessera_session=tok',
    'tessera_session',
    'tessera_session; other=1',
    'other=tessera_session=tok',
  ])('%j has no session cookie', (header) => {
    expect(readSessionCookie(header)).toBeUndefined();
  });

  it('finds the session token among any other cookies, wherever it is', () => {
    const name = fc.stringMatching(/^[a-z_]{1,12}$/).filter((n) => n !== 'tessera_session');
    const pair = fc.tuple(name, fc.stringMatching(/^[A-Za-z0-9._-]{0,20}$/)).map(([n, v]) => `${n}=${v}`);
    fc.assert(
      fc.property(
        fc.array(pair, { maxLength: 5 }),
        fc.array(pair, { maxLength: 5 }),
        fc.stringMatching(/^[A-Za-z0-9._-]{1,300}$/),
        (before, after, token) => {
          const header = [...before, `tessera_session=${token}`, ...after].join('; ');
          expect(readSessionCookie(header)).toBe(token);
        },
      ),
    );
  });
});
