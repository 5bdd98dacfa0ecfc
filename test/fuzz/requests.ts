import fc from 'fast-check';
import type { HTTPMethods } from 'fastify';
import { ADMIN_KEY } from '../support/app.js';
import type { RegisteredRoute } from '../support/routes.js';

/*
 * fast-check arbitraries for whole HTTP requests. A plan is plain data (so fast-check can
 * print and shrink it); tokens in it are named by kind and made real only when it is sent
 * (see `Credentials` in fuzz-routes.test.ts), because a token's state lives in the app.
 */

/** A session token by what it is; `forged` picks one of the attack corpus by index. */
export type TokenPlan =
  | { kind: 'valid' }
  | { kind: 'revoked' }
  | { kind: 'invalidated' }
  | { kind: 'forged'; index: number }
  | { kind: 'text'; value: string };

export type KeyPlan = { kind: 'valid' } | { kind: 'text'; value: string };

export interface RequestPlan {
  method: HTTPMethods;
  /** The path with every parameter filled in, already encoded (or left raw on purpose). */
  path: string;
  /** The query string without `?`, or null for none. */
  query: string | null;
  key: KeyPlan | null;
  authorization: { scheme: string; token: TokenPlan; trailer: string } | { raw: string } | null;
  cookie: { before: string; token: TokenPlan; after: string } | { raw: string } | null;
  contentType: string | null;
  body: string | null;
  headers: Record<string, string>;
}

/** Text a header can carry over HTTP/1.1: visible ASCII, space, tab and obs-text (0x80-0xff). */
const headerChar = fc
  .integer({ min: 0x1f, max: 0xff })
  .filter((code) => code !== 0x7f)
  .map((code) => (code === 0x1f ? '\t' : String.fromCharCode(code)));
export const headerText = (maxLength = 80) => fc.string({ unit: headerChar, maxLength });

/** Visible ASCII that stays in one path segment or query part when left unencoded. */
const rawChar = fc
  .integer({ min: 0x21, max: 0x7e })
  .map((code) => String.fromCharCode(code))
  .filter((c) => !'/?#'.includes(c));
const rawText = (maxLength = 40) => fc.string({ unit: rawChar, maxLength });

/** Percent sequences that decode badly or to something surprising. */
const nastyEscapes = fc.constantFrom(
  '%',
  '%Z',
  '%zz',
  '%C0%AF',
  '%E0%80%80',
  '%00',
  '%2F',
  '%2e%2e',
  '%FF',
  '%u0041',
);

/** Any text of whole code points: printable Unicode, astral planes and control characters included. */
const anyText = (maxLength = 40) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
  );

/**
 * Text with a lone surrogate (half an astral character, as a truncated emoji leaves): JSON
 * can carry it (`"\ud83d"`), a URL cannot, so it goes into bodies only.
 */
const brokenText = fc
  .tuple(anyText(10), fc.integer({ min: 0xd800, max: 0xdfff }), anyText(10))
  .map(([before, unit, after]) => `${before}${String.fromCharCode(unit)}${after}`);

/** A value for a path parameter or a query value, encoded or deliberately not. */
function urlPart(known: string[]): fc.Arbitrary<string> {
  const options: fc.WeightedArbitrary<string>[] = [
    { weight: 3, arbitrary: anyText().map(encodeURIComponent) },
    { weight: 2, arbitrary: rawText() },
    { weight: 1, arbitrary: fc.tuple(rawText(8), nastyEscapes, rawText(8)).map((parts) => parts.join('')) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/) },
    { weight: 1, arbitrary: fc.stringMatching(/^store_[0-9A-Za-z]{20,30}$/) },
    { weight: 1, arbitrary: fc.nat({ max: 10_000 }).map((n) => 'A'.repeat(n)) },
    { weight: 1, arbitrary: fc.constantFrom('.', '..', '%2e', 'current', 'validity', '') },
  ];
  // The real session's jti and stored token's id, often: requests that find what they name.
  if (known.length > 0) options.push({ weight: 4, arbitrary: fc.constantFrom(...known) });
  return fc.oneof(...options);
}

const QUERY_KEYS = ['page', 'limit', 'user_id', 'valid', 'status', 'id', 'jti', '__proto__', 'constructor'];
const queryValue = fc.oneof(
  urlPart([]),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom(
    'true',
    'false',
    '1',
    '0',
    '-1',
    '1e3',
    '0x10',
    ' 1',
    '101',
    '1000000001',
    'all',
    'revoked',
    'active',
  ),
);
/** Paging and filters the listing accepts, most of the time. */
const plausibleQuery = fc
  .record(
    {
      page: fc.integer({ min: 0, max: 5 }),
      limit: fc.integer({ min: 0, max: 101 }),
      user_id: fc.stringMatching(/^usr_[a-z0-9]{1,12}$/),
      valid: fc.boolean(),
      status: fc.constantFrom('active', 'revoked', 'expired', 'invalidated', 'all'),
    },
    { requiredKeys: [] },
  )
  .map((query) =>
    new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString(),
  );
const queryString = fc.oneof(
  { weight: 3, arbitrary: plausibleQuery },
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), urlPart([])), queryValue, fc.boolean()), {
      maxLength: 5,
    })
    .map((pairs) => pairs.map(([key, value, withValue]) => (withValue ? `${key}=${value}` : key)).join('&')),
  rawText(60),
);

const token = (victimJti: string): fc.Arbitrary<TokenPlan> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'valid' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'revoked' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'invalidated' as const }) },
    { weight: 2, arbitrary: fc.nat().map((index) => ({ kind: 'forged' as const, index })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(headerText(300), fc.constantFrom(victimJti, 'a.b.c', '..', 'null', ADMIN_KEY))
        .map((value) => ({ kind: 'text' as const, value })),
    },
  );

const keyPlan: fc.Arbitrary<KeyPlan> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'valid' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        headerText(),
        fc.constantFrom(
          '',
          `${ADMIN_KEY} `,
          ` ${ADMIN_KEY}`,
          `${ADMIN_KEY}, ${ADMIN_KEY}`,
          ADMIN_KEY.toUpperCase(),
          ADMIN_KEY.slice(0, -1),
        ),
      )
      .map((value) => ({ kind: 'text' as const, value })),
  },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/jsonx',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  ';',
];

/** Instants RFC 3339 accepts, and near misses it does not. */
const dateText = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc
    .date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .chain((d) =>
      fc.constantFrom(
        d.toISOString(),
        d.toISOString().replace('.000Z', 'Z'),
        d.toISOString().replace('Z', '+01:00'),
        d.toISOString().replace('Z', '+0100'),
        d.toISOString().replace('Z', ''),
        d.toISOString().replace('T', ' '),
        d.toISOString().toLowerCase(),
        d.toISOString().replace(/\.\d+Z$/, '.123456789123Z'),
      ),
    ),
  fc.constantFrom(
    '2026-02-30T00:00:00Z',
    '2026-03-26T24:00:00Z',
    '2026-12-31T23:59:60Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '+275760-09-13T00:00:00Z',
    '2026-03-26',
    'now',
  ),
);

/** A JSON value of any shape, and the fields the API knows given values of any type. */
const fieldValue = fc.oneof(
  anyText(),
  brokenText,
  dateText,
  fc.constant(ADMIN_KEY),
  fc.nat({ max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(anyText(8), { maxLength: 3 }),
  fc.dictionary(anyText(8), anyText(8), { maxKeys: 3 }),
);
/** Values each known field accepts, most of the time: requests that get past validation. */
const plausibleFields = fc.record(
  {
    user_id: fc.oneof(
      fc.stringMatching(/^usr_[a-z0-9]{1,12}$/),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
    ),
    token: fc.oneof(
      fc.stringMatching(/^eyJ[A-Za-z0-9_-]{4,40}\.[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,43}$/),
      anyText(50),
      brokenText,
    ),
    expires_at: dateText,
  },
  { requiredKeys: [] },
);
/** A whole body for storing a token, each field plausible. */
const completeFields = plausibleFields.chain((fields) =>
  fc.record({
    user_id: fc.constant(fields.user_id ?? 'usr_fuzz'),
    token: fc.constant(fields.token ?? 'eyJhbGciOiJIUzI1NiJ9.e30.sig'),
    expires_at: fc.constant(fields.expires_at ?? '2026-03-27T08:00:00Z'),
  }),
);
const knownFields = fc.record(
  { user_id: fieldValue, token: fieldValue, expires_at: fieldValue, adminKey: fieldValue },
  { requiredKeys: [] },
);
const bodyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: plausibleFields.map((fields) => JSON.stringify(fields)) },
  { weight: 8, arbitrary: completeFields.map((fields) => JSON.stringify(fields)) },
  {
    weight: 4,
    arbitrary: plausibleFields.map(({ token, expires_at }) =>
      JSON.stringify({
        ...(token === undefined ? {} : { token }),
        ...(expires_at === undefined ? {} : { expires_at }),
      }),
    ),
  },
  { weight: 1, arbitrary: fc.constant(JSON.stringify({ adminKey: ADMIN_KEY })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(knownFields, fc.dictionary(anyText(12), fieldValue, { maxKeys: 2 }))
      .map(([known, extra]) => JSON.stringify({ ...extra, ...known })),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: anyText(60) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"admin":true}}}',
      '{"user_id":"u","user_id":"v","token":"t","expires_at":"2026-03-27T00:00:00Z"}',
      '{',
      'null',
      '"text"',
      '[]',
      ' ',
      '\u0000',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 30_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  },
  { weight: 1, arbitrary: fc.integer({ min: 60 * 1024, max: 70 * 1024 }).map((n) => `"${'y'.repeat(n)}"`) },
);

const EXTRA_HEADERS = [
  'origin',
  'sec-fetch-site',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'user-agent',
  'accept',
  'accept-encoding',
  'if-none-match',
  'range',
  'x-http-method-override',
];
const extraHeaders = fc.dictionary(
  fc.constantFrom(...EXTRA_HEADERS),
  fc.oneof(
    headerText(),
    fc.constantFrom(
      'https://evil.example',
      'null',
      'cross-site',
      'same-origin',
      'localhost:80',
      'DELETE',
      'gzip, br',
    ),
    fc.nat({ max: 10_000 }).map((n) => 'u'.repeat(n)),
  ),
  { maxKeys: 3 },
);

/** Fills `route`'s parameters (`:name`, `*`) with arbitrary values. */
function pathOf(route: RegisteredRoute, known: string[]): fc.Arbitrary<string> {
  const names = [...route.path.matchAll(/:(\w+)|\*/g)];
  return fc.array(urlPart(known), { minLength: names.length, maxLength: names.length }).map((values) => {
    let i = 0;
    return route.path.replace(/:(\w+)|\*/g, () => values[i++] ?? '');
  });
}

type CredentialPlan = Pick<RequestPlan, 'key' | 'authorization' | 'cookie'>;

/**
 * The credentials of a request: half the time exactly one valid credential (so requests get
 * past authentication and reach validation and the handler), otherwise any mix of the three
 * headers, each absent, valid, stale, forged or garbage, in any spelling.
 */
function credentialPlans(victimJti: string): fc.Arbitrary<CredentialPlan> {
  const none = { key: null, authorization: null, cookie: null };
  const valid = { kind: 'valid' as const };
  const wild: fc.Arbitrary<CredentialPlan> = fc.record({
    key: fc.option(keyPlan, { nil: null, freq: 2 }),
    authorization: fc.option(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            scheme: fc.oneof(
              { weight: 4, arbitrary: fc.constant('Bearer ') },
              fc.constantFrom('bearer ', 'BEARER   ', 'Bearer\t', 'Bearer', 'Basic ', 'Token ', ''),
            ),
            token: token(victimJti),
            trailer: fc.oneof(
              { weight: 4, arbitrary: fc.constant('') },
              fc.constantFrom(' ', '  ', '=', ',x'),
            ),
          }),
        },
        { weight: 1, arbitrary: headerText().map((raw) => ({ raw })) },
      ),
      { nil: null, freq: 2 },
    ),
    cookie: fc.option(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            before: fc.constantFrom('', 'a=b; ', 'tessera_session=; ', 'tessera_session=junk; ', 'x'),
            token: token(victimJti),
            after: fc.constantFrom('', '; a=b', '; tessera_session=junk', ';;', '; Path=/'),
          }),
        },
        { weight: 1, arbitrary: headerText().map((raw) => ({ raw })) },
      ),
      { nil: null, freq: 2 },
    ),
  });
  return fc.oneof(
    { weight: 5, arbitrary: wild },
    { weight: 2, arbitrary: fc.constant({ ...none, key: valid }) },
    {
      weight: 2,
      arbitrary: fc.constant({ ...none, authorization: { scheme: 'Bearer ', token: valid, trailer: '' } }),
    },
    { weight: 1, arbitrary: fc.constant({ ...none, cookie: { before: '', token: valid, after: '' } }) },
  );
}

/** Requests for one route: its method, any parameters, query, credentials, headers and body. */
export function requestPlans(
  route: RegisteredRoute,
  known: { jti: string; storedId: string },
): fc.Arbitrary<RequestPlan> {
  const rest = fc.record({
    method: fc.constant(route.method),
    path: pathOf(route, [known.jti, known.storedId]),
    query: fc.option(queryString, { nil: null }),
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant('application/json') },
      { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    body: fc.option(bodyText, { nil: null }),
    headers: fc.oneof(fc.constant({}), extraHeaders),
  });
  return fc
    .tuple(credentialPlans(known.jti), rest)
    .map(([credentials, others]) => ({ ...others, ...credentials }));
}

/** Requests to anywhere: any method, any path (near misses of real routes included), no credential. */
export const strayRequests = fc.record({
  method: fc.constantFrom<HTTPMethods>('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path: fc.oneof(
    // A request target always starts with `/` (inject cannot send an empty one).
    fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
    fc
      .tuple(
        fc.constantFrom(
          '/api/admin/session',
          '/api/admin/tokens/sessions',
          '/api/admin/tokens/revoke',
          '/api/v1/session-storage',
          '/api/v1/session-storage/api/v1/session-storage',
          '/docs',
          '/healthz',
        ),
        fc.constantFrom(
          '',
          '/',
          '//',
          '/.',
          '/..',
          '%2F',
          '%00',
          '/x',
          '?',
          '#',
          ';',
          '/%2e%2e/admin/session',
        ),
      )
      .map(([base, tail]) => `${base}${tail}`),
    fc.constantFrom(
      '//api/admin/session',
      '/API/ADMIN/SESSION',
      '/api/admin/./session',
      '/api/admin/../admin/session',
      '/api//admin/session',
    ),
  ),
  body: fc.option(bodyText, { nil: null }),
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: null }),
});
