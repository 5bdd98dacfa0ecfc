import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { at, BASE, HOUR, KEY, secretsWith, storageClient } from './storage-api/harness.js';
import type { TestApp } from './support/app.js';
import { useTestApps } from './support/app.js';

/** Tokens whose middles are random, so finding one anywhere can only mean a leak. */
const makeTokens = (count: number, label: string) =>
  Array.from({ length: count }, (_, i) => {
    const core = `${label}${i}x${Buffer.from(`${label}-${i}-${Math.random()}`).toString('base64url')}`;
    return { core, token: `eyJhbGci.${core}.sig${i}` };
  });

/** Writes, reads, replaces and deletes through the API, leaving the store busy with tokens. */
async function exercise(t: TestApp, tokens: { token: string }[], replacements: { token: string }[]) {
  const client = storageClient(t.app);
  const ids: string[] = [];
  for (const { token } of tokens) {
    const response = await client.create({ user_id: 'usr_marker_for_rest', token, expires_at: at(HOUR) });
    expect(response.statusCode).toBe(201);
    ids.push(response.json().id);
  }
  for (const [i, { token }] of replacements.entries()) {
    expect((await client.update(ids[i] as string, { token })).statusCode).toBe(200);
  }
  expect((await client.get(ids[0] as string)).statusCode).toBe(200);
  expect((await client.current()).statusCode).toBe(200);
  expect((await client.remove(ids[ids.length - 1] as string)).statusCode).toBe(200);
  return ids;
}

describe('no stored token in clear', () => {
  const dirs: string[] = [];
  // Registered first, so it runs after the apps (and their stores) are closed.
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const startApp = useTestApps();

  const expectAbsent = (haystack: Buffer, tokens: { token: string; core: string }[]) => {
    for (const { token, core } of tokens) {
      expect(haystack.includes(Buffer.from(token)), token).toBe(false);
      expect(haystack.includes(Buffer.from(core)), core).toBe(false);
    }
  };

  it('in the raw SQLite files (db, -wal, -shm) after writes', async () => {
    const t = await startApp();
    const tokens = makeTokens(20, 'live');
    const replacements = makeTokens(5, 'renewed');
    await exercise(t, tokens, replacements);
    const dbPath = t.dbPath as string;
    const files = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`];
    for (const file of files) expect(existsSync(file), file).toBe(true);
    const raw = Buffer.concat(files.map((file) => readFileSync(file)));
    // The files do hold the records: the user id and the previews are there in clear.
    expect(raw.includes(Buffer.from('usr_marker_for_rest'))).toBe(true);
    expect(raw.includes(Buffer.from('eyJhbGci...sig3'))).toBe(true);
    expectAbsent(raw, [...tokens, ...replacements]);
  });

  it('in the SQLite file after the store is closed and the WAL checkpointed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-rest-'));
    dirs.push(dir);
    const dbPath = join(dir, 'tessera.db');
    const t = await startApp({ store: new SqliteStore(dbPath) });
    const tokens = makeTokens(10, 'closed');
    await exercise(t, tokens, []);
    await t.close();
    const raw = Buffer.concat(
      [dbPath, `${dbPath}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
    );
    expect(raw.includes(Buffer.from('usr_marker_for_rest'))).toBe(true);
    expectAbsent(raw, tokens);
  });

  it('in any log line, including the lines of failures', async () => {
    const lines: string[] = [];
    const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });
    const t = await startApp({ logger, secrets: secretsWith('k1') });
    const tokens = makeTokens(3, 'logged');
    const ids = await exercise(t, tokens, makeTokens(1, 'logrenewed'));

    // Failures that log at error level: a lost key and an altered record.
    const lostKey = storageClient(await t.anotherApp({ secrets: secretsWith('k2') }));
    expect((await lostKey.get(ids[1] as string)).json().code).toBe('SEALING_KEY_MISSING');
    const record = await t.store.findStoredToken(ids[1] as string);
    await t.store.updateStoredToken(ids[1] as string, {
      sealed: Buffer.from(record?.sealed.map((byte) => byte ^ 0xff) as Uint8Array),
      savedAtMs: record?.savedAtMs as number,
    });
    expect((await storageClient(t.app).get(ids[1] as string)).json().code).toBe('TOKEN_UNREADABLE');
    // Refused bodies carrying a token: malformed JSON and a failed validation.
    const leaked = makeTokens(2, 'refused');
    await t.app.inject({
      method: 'POST',
      url: BASE,
      headers: { ...KEY, 'content-type': 'application/json' },
      payload: `{"user_id":"u","token":"${leaked[0]?.token}",`,
    });
    await storageClient(t.app).create({ user_id: '', token: leaked[1]?.token, expires_at: 'soon' });

    const log = lines.join('');
    expect(log).toContain('SEALING_KEY_MISSING');
    expect(log).toContain('/api/v1/session-storage');
    expectAbsent(Buffer.from(log), [...tokens, ...leaked]);
  });
});
