import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestApp, TestAppOptions } from '../support/app.js';

export type { StoreFactory } from '../support/app.js';

export interface AdminApiHarness {
  /** A fresh app (frozen clock at T0) on a fresh store from the factory; closed after the test. */
  start(options?: Omit<TestAppOptions, 'store'>): Promise<TestApp>;
}

/** The contract's 401, exactly. */
export const UNAUTHORIZED = { success: false, error: 'Unauthorized', code: 'UNAUTHORIZED' } as const;

/** The contract's 404 for revoking a session that is not active, exactly. */
export const SESSION_NOT_FOUND = {
  success: false,
  error: 'Session not found or invalid jti',
  code: 'SESSION_NOT_FOUND',
} as const;

/** Asserts the error shape `{success:false, error, code}` (plus `details` when given). */
export function expectFailure(
  response: LightMyRequestResponse,
  status: number,
  code: string,
  error?: string,
): Record<string, unknown> {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json() as Record<string, unknown>;
  expect(body.success).toBe(false);
  expect(body.code).toBe(code);
  expect(typeof body.error).toBe('string');
  if (error !== undefined) expect(body.error).toBe(error);
  expect(Object.keys(body).sort()).toEqual(
    'details' in body ? ['code', 'details', 'error', 'success'] : ['code', 'error', 'success'],
  );
  return body;
}

/** Asserts the exact contract 401. */
export function expectUnauthorized(response: LightMyRequestResponse): void {
  expect(response.statusCode, response.body).toBe(401);
  expect(response.json()).toEqual(UNAUTHORIZED);
}

/** Parses `Set-Cookie` for the session cookie into its value and lower-cased attributes. */
export function sessionSetCookie(response: LightMyRequestResponse): {
  value: string;
  attributes: Map<string, string | true>;
} {
  const header = response.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const line = lines.find((l) => l.startsWith('tessera_session='));
  if (line === undefined) throw new Error(`no tessera_session cookie in ${JSON.stringify(header)}`);
  const [pair = '', ...rest] = line.split(';').map((part) => part.trim());
  const attributes = new Map<string, string | true>();
  for (const attribute of rest) {
    const eq = attribute.indexOf('=');
    if (eq === -1) attributes.set(attribute.toLowerCase(), true);
    else attributes.set(attribute.slice(0, eq).toLowerCase(), attribute.slice(eq + 1));
  }
  return { value: pair.slice(pair.indexOf('=') + 1), attributes };
}

export const HOUR_MS = 3_600_000;
