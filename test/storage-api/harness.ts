import type { FastifyInstance, HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach } from 'vitest';
import { toRfc3339 } from '../../src/clock.js';
import type { Secrets } from '../../src/secrets.js';
import type { StoreFactory, TestApp, TestAppOptions } from '../support/app.js';
import { ADMIN_KEY, useTestApps } from '../support/app.js';
import { T0 } from '../support/time.js';

export type { StoreFactory, TestAppOptions } from '../support/app.js';

export const BASE = '/api/v1/session-storage';
export const ALIAS = `${BASE}${BASE}`;
export const KEY = { 'x-admin-key': ADMIN_KEY };
export const STORED_TOKEN_ID = /^store_[0-9A-HJKMNP-TV-Z]{26}$/;

/** A JWT-shaped token whose preview is the contract's `eyJhbGci...Q3Yk`. */
export const TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfOWEyZjMxIn0.sig-Q3Yk';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** An instant relative to T0 (2026-03-26T08:00:00Z), as the API writes it. */
export const at = (offsetMs: number) => toRfc3339(T0 + offsetMs);

export const secretsWith = (...kids: string[]): Secrets => ({
  sessionKeys: [{ kid: null, secret: Buffer.alloc(32, 7) }],
  encryptionKeys: kids.map((kid) => ({ kid, key: Buffer.alloc(32, kid.charCodeAt(kid.length - 1)) })),
});

/**
 * A fresh app per test on the store the factory makes (or a new SQLite file), with `options`
 * (the suite's defaults, e.g. scale-out `instances`, and the file's own).
 */
export function useStorageApp(makeStore?: StoreFactory, options: TestAppOptions = {}): () => TestApp {
  const startApp = useTestApps({ ...(makeStore === undefined ? {} : { store: makeStore }), ...options });
  let t: TestApp | undefined;
  beforeEach(async () => {
    t = await startApp();
  });
  afterEach(() => {
    t = undefined;
  });
  return () => {
    if (t === undefined) throw new Error('no test app outside a test');
    return t;
  };
}

/** The session-storage API over `inject`, with the admin key unless told otherwise. */
export function storageClient(app: FastifyInstance, base = BASE, headers: Record<string, string> = KEY) {
  const send = (method: HTTPMethods, path: string, payload?: unknown, query?: string) =>
    app.inject({
      method,
      url: `${base}${path}${query === undefined ? '' : `?${query}`}`,
      headers,
      ...(payload === undefined ? {} : { payload: payload as NonNullable<InjectOptions['payload']> }),
    });
  return {
    list: (query?: string) => send('GET', '', undefined, query),
    get: (id: string) => send('GET', `/${id}`),
    current: (query?: string) => send('GET', '/current', undefined, query),
    validity: (query?: string) => send('GET', '/validity', undefined, query),
    create: (body: unknown) => send('POST', '', body),
    update: (id: string, body: unknown) => send('PUT', `/${id}`, body),
    clear: () => send('DELETE', ''),
    remove: (id: string) => send('DELETE', `/${id}`),
  };
}

export interface SavedToken {
  id: string;
  user_id: string;
  token_preview: string;
  expires_at: string;
  is_valid: boolean;
  saved_at: string;
  created_at: string;
}

/** Stores a token and returns the 201 body; fails the test on anything else. */
export async function saveToken(
  app: FastifyInstance,
  body: { user_id?: string; token?: string; expires_at?: string } = {},
): Promise<SavedToken> {
  const response = await storageClient(app).create({
    user_id: 'usr_9a2f31',
    token: TOKEN,
    expires_at: at(3 * HOUR),
    ...body,
  });
  if (response.statusCode !== 201) throw new Error(`save failed: ${response.statusCode} ${response.body}`);
  return response.json() as SavedToken;
}

/** The `{field}` names of a 400's details. */
export function detailFields(response: LightMyRequestResponse): string[] {
  return (response.json() as { details?: { field: string }[] }).details?.map((d) => d.field) ?? [];
}
