import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import type { RedisBackendConfig } from '../src/store/redis/connection.js';
import { RedisStore, type RedisStoreOptions } from '../src/store/redis/redis-store.js';
import type { AuditEntry, Store, StoredToken } from '../src/store/types.js';
import { auditEntry, newSession, newToken, RecordingListener } from './store-contract/support.js';
import { describeStoreContract } from './store-contract.js';
import { freezableRelay } from './support/freezable-relay.js';
import { deleteKeys, dumpKeys, probeRedis, redisFixture, testRedisConfig } from './support/redis.js';
import { describeWithService, TEST_REDIS_URL } from './support/services.js';
import { countWrites } from './support/socket-writes.js';
import { T0, T0_SECONDS } from './support/time.js';
import { waitUntil, withDeadline } from './support/wait.js';

const NOW = T0 + 60_000;
/** The order the port promises: savedAtMs descending, then id descending byte by byte. */
const byListingOrder = (a: StoredToken, b: StoredToken) =>
  b.savedAtMs - a.savedAtMs || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id));

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'RedisStore',
  () => {
    describeStoreContract('Redis', redisFixture(TEST_REDIS_URL, false), { crossInstanceFeed: 'events' });

    describe('Redis specifics', () => {
      const opened: { store: Store; config: RedisBackendConfig }[] = [];
      const open = async (
        options: RedisStoreOptions = {},
        config = testRedisConfig(TEST_REDIS_URL, false),
      ) => {
        const store = new RedisStore(config, options);
        await store.migrate();
        opened.push({ store, config });
        return { store, config };
      };
      afterEach(async () => {
        for (const { store, config } of opened.splice(0)) {
          await store.close();
          await deleteKeys(config);
        }
      });

      /** A store holding tok_one and tok_two, and the writes on its own connection from now on. */
      const withTwoTokens = async () => {
        const { store } = await open();
        for (const id of ['tok_one', 'tok_two']) await store.insertStoredToken(newToken(id));
        // The store's own connection (private): what RedisStore.run holds for the turn.
        const client = (store as unknown as { client: Redis }).client;
        return { store, counts: countWrites(client.stream as Socket) };
      };

      it("the store's commands of one turn leave in one socket write, each with its own answer", async () => {
        const { store, counts } = await withTwoTokens();
        const found = await Promise.all(
          ['tok_one', 'tok_missing', 'tok_two'].map((id) => store.findStoredToken(id)),
        );
        expect(found.map((token) => token?.id ?? null)).toEqual(['tok_one', null, 'tok_two']);
        expect(counts).toEqual({ writes: 1, chunks: 3 });
      });

      it('lookups of one id in one turn get one record from one read; the next turn reads afresh', async () => {
        const { store, counts } = await withTwoTokens();
        const found = await Promise.all(
          ['tok_one', 'tok_two', 'tok_one', 'tok_one'].map((id) => store.findStoredToken(id)),
        );
        expect(found.map((token) => token?.id ?? null)).toEqual(['tok_one', 'tok_two', 'tok_one', 'tok_one']);
        expect(found[2]).toBe(found[0]);
        expect(found[3]).toBe(found[0]);
        // Two reads (one per distinct id), in one write.
        expect(counts).toEqual({ writes: 1, chunks: 2 });
        await store.deleteStoredToken('tok_one');
        expect(await store.findStoredToken('tok_one')).toBeNull();
      });

      it('the store adds nothing in clear: only the preview of a stored token is readable on the server', async () => {
        const { store, config } = await open();
        const marker = 'CLEAR-TOKEN-MARKER-eyJhbGciOiJIUzI1NiJ9';
        // Stands in for the seal (another module): bytes that do not contain the marker.
        const sealed = Buffer.from(Buffer.from(marker).map((byte) => byte ^ 0x5a));
        const token = newToken('tok_secret', { sealed, preview: 'CLEAR-TO...eyJ9' });
        await store.insertStoredToken(token);
        await store.updateStoredToken('tok_secret', { savedAtMs: T0 + 5, expiresAtMs: T0 + 999_999 });
        const dump = await dumpKeys(config);
        const everything = Buffer.concat(dump.flatMap(({ key, parts }) => [Buffer.from(key), ...parts]));
        expect(everything.includes(Buffer.from(sealed))).toBe(true);
        expect(everything.includes(Buffer.from(marker))).toBe(false);
        expect(everything.includes(Buffer.from(marker.slice(0, 12)))).toBe(false);
        // Every key is the store's: prefix first, then the one hash tag.
        for (const { key } of dump) expect(key.startsWith(`${config.prefix}{tessera}:`)).toBe(true);
      });

      it('a database index in the URL keeps the keys in that database', async () => {
        const config = testRedisConfig(`${TEST_REDIS_URL}/5`, false);
        const { store } = await open({}, config);
        await store.insertStoredToken(newToken('tok_1'));
        expect((await dumpKeys(config)).some(({ key }) => key.endsWith(':token:tok_1'))).toBe(true);
        const inDefault = { ...config, url: TEST_REDIS_URL };
        expect(await dumpKeys(inDefault)).toEqual([]);
      });

      it('record hashes expire after expiry plus the margin; indexes and settings never expire', async () => {
        const { store, config } = await open();
        const future = Date.now() + 3_600_000;
        await store.createSession(newSession('s1', { exp: Math.floor(future / 1000) }));
        await store.insertStoredToken(newToken('tok_1', { expiresAtMs: future }));
        // A record already expired by the wall clock (the suite's frozen 2026 morning) still
        // lives a whole margin: the sweeper, not the TTL, decides when records go.
        await store.insertStoredToken(newToken('tok_old', { expiresAtMs: T0 }));
        const ttl = new Map(
          (await dumpKeys(config)).map(({ key, ttlMs }) => [key.slice(config.prefix.length), ttlMs]),
        );
        const margin = 31 * 86_400_000;
        for (const key of ['{tessera}:session:s1', '{tessera}:token:tok_1']) {
          expect(ttl.get(key)).toBeGreaterThan(margin + 3_500_000);
          expect(ttl.get(key)).toBeLessThanOrEqual(margin + 3_600_000);
        }
        expect(ttl.get('{tessera}:token:tok_old')).toBeGreaterThan(margin - 60_000);
        expect(ttl.get('{tessera}:token:tok_old')).toBeLessThanOrEqual(margin);
        for (const key of [
          '{tessera}:version',
          '{tessera}:tokens:by-saved',
          '{tessera}:sessions:by-created',
        ]) {
          expect(ttl.get(key)).toBe(-1);
        }
      });

      it('a recorded read whose audit entry cannot be written fails, and hands out no token', async () => {
        const { store, config } = await open();
        await store.insertStoredToken(newToken('tok_a', { userId: 'usr_a' }));
        // The trail's by-time index made a string: the read's script fails when it adds to it.
        const raw = new Redis(TEST_REDIS_URL);
        try {
          await raw.set(`${config.prefix}{tessera}:audit-log:by-time`, 'not a sorted set');
        } finally {
          raw.disconnect();
        }
        const entry = auditEntry('audit_1', { action: 'storage.read_token' });
        await expect(store.readStoredToken('tok_a', entry)).rejects.toThrow(/WRONGTYPE/);
        await expect(store.readCurrentStoredToken(T0, 'usr_a', entry)).rejects.toThrow(/WRONGTYPE/);
        expect((await store.findStoredToken('tok_a'))?.id).toBe('tok_a');
        // Nothing read, nothing recorded: no entry for an id no token has.
        expect(await store.readStoredToken('tok_none', entry)).toBeNull();
      });

      it('migrate builds the per-key-id index once for tokens written before it existed', async () => {
        const { store, config } = await open();
        await store.insertStoredToken(newToken('tok_old_1', { kid: 'k1' }));
        await store.insertStoredToken(newToken('tok_old_2', { kid: 'k2' }));
        // As a store written by an earlier version: no sets, no bookkeeping, no marker.
        const raw = new Redis(TEST_REDIS_URL);
        try {
          const base = `${config.prefix}{tessera}:`;
          await raw.del(
            `${base}tokens:kid:k1`,
            `${base}tokens:kid:k2`,
            `${base}tokens:kid-of`,
            `${base}tokens:kid-index-built`,
          );
        } finally {
          raw.disconnect();
        }
        expect(await store.countStoredTokensSealedWith('k1')).toBe(0);
        await store.migrate();
        expect(await store.countStoredTokensSealedWith('k1')).toBe(1);
        expect((await store.listStoredTokensSealedWith('k2', 10)).map((token) => token.id)).toEqual([
          'tok_old_2',
        ]);
      });

      it('an audit entry is a member of the by-time set and of its action set (a token read: its id); no key of its own', async () => {
        const { store, config } = await open();
        await store.insertStoredToken(newToken('tok_a'));
        await store.appendAudit([auditEntry('audit_1', { reason: 'a "quoted" reason, with \\ and \u00e9' })]);
        await store.readStoredToken(
          'tok_a',
          auditEntry('audit_2', { action: 'storage.read_token', ip: null }),
        );
        const audit = (await dumpKeys(config)).filter(({ key }) => key.includes('audit'));
        const byKey = new Map(
          audit.map(({ key, parts, ttlMs }) => [
            key.slice(config.prefix.length),
            { parts: parts.map(String), ttlMs },
          ]),
        );
        expect([...byKey.keys()].sort()).toEqual([
          '{tessera}:audit-log:action:login',
          '{tessera}:audit-log:by-time',
          '{tessera}:audit-log:reads',
        ]);
        // Members and scores: `<id> <JSON>` at atMs; the read's target is the token it found.
        const login = `audit_1 {"atMs":${T0},"action":"login","actor":"admin_key","ip":"203.0.113.7","userAgent":"curl/8","reason":"a \\"quoted\\" reason, with \\\\ and \u00e9"}`;
        const read = `audit_2 {"atMs":${T0},"action":"storage.read_token","actor":"admin_key","userAgent":"curl/8","target":"tok_a"}`;
        expect(byKey.get('{tessera}:audit-log:by-time')?.parts).toEqual([
          login,
          String(T0),
          read,
          String(T0),
        ]);
        expect(byKey.get('{tessera}:audit-log:action:login')?.parts).toEqual([login, String(T0)]);
        expect(byKey.get('{tessera}:audit-log:reads')?.parts).toEqual(['audit_2', String(T0)]);
        for (const { ttlMs } of byKey.values()) expect(ttlMs).toBe(-1);
        const readEntry = auditEntry('audit_2', { action: 'storage.read_token', ip: null, target: 'tok_a' });
        expect((await store.listAudit({ offset: 0, limit: 10 })).items).toEqual([
          readEntry,
          auditEntry('audit_1', { reason: 'a "quoted" reason, with \\ and \u00e9' }),
        ]);
        expect(await store.listAudit({ offset: 0, limit: 10, action: 'storage.read_token' })).toEqual({
          items: [readEntry],
          total: 1,
        });
      });

      it('an entry like the one before it but for its id is sent as its id alone, and stored whole', async () => {
        const { store, config } = await open();
        const batch = [
          auditEntry('audit_1'),
          auditEntry('audit_2'),
          auditEntry('audit_3', { reason: 'r' }),
          auditEntry('audit_4', { reason: 'r' }),
          auditEntry('audit_5', { atMs: T0 + 1, reason: 'r' }),
          auditEntry('audit_6', { atMs: T0 + 1, reason: 'r', ip: null }),
          auditEntry('audit_7', { atMs: T0 + 1, reason: 'r', ip: null }),
          auditEntry('audit_8'),
        ];
        // What the script is given: the repeats are an id and three empty strings.
        const access = (store as unknown as { access: { auditArgs(e: AuditEntry[]): unknown[] } }).access;
        const entries = access.auditArgs(batch).slice(3);
        const sentWhole = batch.map((_, i) => entries[i * 4 + 3] !== '');
        expect(sentWhole).toEqual([true, false, true, false, true, true, false, true]);
        for (let i = 0; i < batch.length; i++) expect(entries[i * 4]).toBe(batch[i]?.id);

        await store.appendAudit(batch);
        const byTime = [...batch].sort((a, b) => b.atMs - a.atMs || (a.id < b.id ? 1 : -1));
        expect(await store.listAudit({ offset: 0, limit: 10 })).toEqual({ items: byTime, total: 8 });
        expect((await store.listAudit({ offset: 0, limit: 10, action: 'login' })).items).toEqual(byTime);

        // A turn's recorded reads of one token, and of the current one: each entry whole, its
        // target the token found.
        await store.insertStoredToken(newToken('tok_a', { userId: 'usr_a' }));
        const read = (id: string) => auditEntry(id, { action: 'storage.read_token', atMs: T0 + 2 });
        const found = await Promise.all([
          store.readStoredToken('tok_a', read('audit_r1')),
          store.readStoredToken('tok_a', read('audit_r2')),
          store.readCurrentStoredToken(T0, 'usr_a', read('audit_r3')),
          store.readCurrentStoredToken(T0, 'usr_a', read('audit_r4')),
        ]);
        expect(found.map((token) => token?.id)).toEqual(['tok_a', 'tok_a', 'tok_a', 'tok_a']);
        const reads = ['audit_r4', 'audit_r3', 'audit_r2', 'audit_r1'].map((id) => ({
          ...read(id),
          target: 'tok_a',
        }));
        expect(await store.listAudit({ offset: 0, limit: 10, action: 'storage.read_token' })).toEqual({
          items: reads,
          total: 4,
        });
        const members = (await dumpKeys(config)).find(({ key }) => key.endsWith('audit-log:by-time'));
        const readMembers = members?.parts.map(String).filter((part) => part.startsWith('audit_r'));
        expect(readMembers?.sort()).toEqual(
          ['audit_r1', 'audit_r2', 'audit_r3', 'audit_r4'].map(
            (id) =>
              `${id} {"atMs":${T0 + 2},"action":"storage.read_token","actor":"admin_key","ip":"203.0.113.7","userAgent":"curl/8","target":"tok_a"}`,
          ),
        );
      });

      it('token reads, paged through their ids: every page and total as a plain filter, equal times included', async () => {
        const { store } = await open();
        const actions = ['login', 'storage.read_token', 'logout', 'session.revoke'] as const;
        // Reads make about half of the first 240 entries, then every entry after them.
        const entries = Array.from({ length: 300 }, (_, i) =>
          auditEntry(`audit_${String(i).padStart(3, '0')}`, {
            // Up to four entries a millisecond, reads among them: each found by its id.
            atMs: T0 + Math.floor(i / 4),
            action: i >= 240 || i % 3 === 1 ? 'storage.read_token' : (actions[i % 4] ?? 'login'),
          }),
        );
        for (let i = 0; i < entries.length; i += 50) await store.appendAudit(entries.slice(i, i + 50));
        const check = async () => {
          const reads = entries.filter((entry) => entry.action === 'storage.read_token').reverse();
          for (const [offset, limit] of [
            [0, 1],
            [0, 10],
            [55, 7],
            [98, 50],
            [120, 100],
            [0, 500],
            [500, 5],
            [3, 0],
          ] as const) {
            expect(await store.listAudit({ offset, limit, action: 'storage.read_token' })).toEqual({
              items: reads.slice(offset, offset + limit),
              total: reads.length,
            });
          }
          expect((await store.listAudit({ offset: 0, limit: 1, action: 'login' })).total).toBe(
            entries.filter((entry) => entry.action === 'login').length,
          );
        };
        await check();
        expect(await store.purgeAudit(T0 + 30)).toBe(120);
        entries.splice(0, 120);
        await check();
      });

      it('a write removes up to 100 entries older than its first by more than the TTL, from every set', async () => {
        const { store } = await open({ auditTtlMs: 10_000 });
        await store.appendAudit([
          auditEntry('audit_1', { atMs: T0 }),
          auditEntry('audit_2', { atMs: T0 + 1, action: 'logout' }),
          auditEntry('audit_3', { atMs: T0, action: 'storage.read_token' }),
        ]);
        await store.appendAudit([auditEntry('audit_4', { atMs: T0 + 5_000 })]);
        // T0 + 10_001: audit_1 and audit_3 are older than the TTL; audit_2 is exactly as old.
        await store.appendAudit([auditEntry('audit_5', { atMs: T0 + 10_001, action: 'storage.read_token' })]);
        const ids = async (action?: string) => {
          const page = await store.listAudit({
            offset: 0,
            limit: 200,
            ...(action === undefined ? {} : { action }),
          });
          return { ids: page.items.map((entry) => entry.id), total: page.total };
        };
        expect(await ids()).toEqual({ ids: ['audit_5', 'audit_4', 'audit_2'], total: 3 });
        expect(await ids('login')).toEqual({ ids: ['audit_4'], total: 1 });
        expect(await ids('logout')).toEqual({ ids: ['audit_2'], total: 1 });
        expect(await ids('storage.read_token')).toEqual({ ids: ['audit_5'], total: 1 });
        // A backlog goes 100 a write, so no write waits on a long one.
        const backlog = Array.from({ length: 150 }, (_, i) =>
          auditEntry(`audit_b${i}`, { atMs: T0 + 20_000 + i }),
        );
        await store.appendAudit(backlog);
        await store.appendAudit([auditEntry('audit_6', { atMs: T0 + 40_000 })]);
        // 151 were older (audit_5 and the backlog; the backlog's own write took audit_4 and
        // audit_2): 51 of them are left, with audit_6.
        expect((await ids()).total).toBe(52);
        await store.appendAudit([auditEntry('audit_7', { atMs: T0 + 40_001 })]);
        expect(await ids()).toEqual({ ids: ['audit_7', 'audit_6'], total: 2 });
        expect(await ids('login')).toEqual({ ids: ['audit_7', 'audit_6'], total: 2 });
      });

      /** Writes entries as key layout 1 did: a hash each, with its TTL, and the two id indexes. */
      const writeLayout1Audit = async (
        config: RedisBackendConfig,
        entries: AuditEntry[],
        hashless: string[] = [],
      ) => {
        const raw = new Redis(TEST_REDIS_URL);
        const base = `${config.prefix}{tessera}:`;
        try {
          for (const entry of entries) {
            if (!hashless.includes(entry.id)) {
              const fields = Object.entries(entry).flatMap(([name, value]) =>
                value === null ? [] : [name, String(value)],
              );
              await raw.hset(`${base}audit:${entry.id}`, ...fields);
              await raw.pexpire(`${base}audit:${entry.id}`, 91 * 86_400_000);
            }
            await raw.zadd(`${base}audit:by-time`, entry.atMs, entry.id);
            await raw.zadd(`${base}audit:action:${entry.action}`, entry.atMs, entry.id);
          }
        } finally {
          raw.disconnect();
        }
      };
      const legacyKeys = async (config: RedisBackendConfig) =>
        (await dumpKeys(config))
          .map(({ key }) => key.slice(config.prefix.length))
          .filter((key) => key.startsWith('{tessera}:audit:'))
          .sort();
      const setLayout = async (config: RedisBackendConfig, layout: string) => {
        const raw = new Redis(TEST_REDIS_URL);
        try {
          await raw.set(`${config.prefix}{tessera}:schema`, layout);
        } finally {
          raw.disconnect();
        }
      };

      it('migrate brings key layout 1 to 2: its audit entries join the trail, every field kept', async () => {
        const { store, config } = await open();
        await store.appendAudit([auditEntry('audit_9', { atMs: T0 + 9, action: 'logout' })]);
        const old = [
          auditEntry('audit_1', { atMs: T0 + 1 }),
          auditEntry('audit_2', { atMs: T0 + 2, action: 'storage.read_token', target: 'tok_x', ip: null }),
          auditEntry('audit_3', { atMs: T0 + 3, reason: 'a "reason"', userAgent: null }),
          // Its hash gone by TTL: layout 1 listed nothing for it, and neither does layout 2.
          auditEntry('audit_4', { atMs: T0 + 4, action: 'logout' }),
        ];
        await writeLayout1Audit(config, old, ['audit_4']);
        await setLayout(config, '1');
        await store.migrate();
        const raw = new Redis(TEST_REDIS_URL);
        try {
          expect(await raw.get(`${config.prefix}{tessera}:schema`)).toBe('2');
        } finally {
          raw.disconnect();
        }
        expect(await store.listAudit({ offset: 0, limit: 10 })).toEqual({
          items: [auditEntry('audit_9', { atMs: T0 + 9, action: 'logout' }), old[2], old[1], old[0]],
          total: 4,
        });
        expect((await store.listAudit({ offset: 0, limit: 10, action: 'login' })).items).toEqual([
          old[2],
          old[0],
        ]);
        expect(await store.purgeAudit(T0 + 3)).toBe(2);
        expect((await store.listAudit({ offset: 0, limit: 10, action: 'login' })).items).toEqual([old[2]]);
        // Layout 1 kept the ids of hashes its TTL removed in their action's set, and so does this:
        // nothing names that action to look in.
        expect(await legacyKeys(config)).toEqual(['{tessera}:audit:action:logout']);
      });

      it('the audit sweep moves entries a layout 1 instance writes after the migration', async () => {
        const { store, config } = await open();
        const late = auditEntry('audit_late', { atMs: T0 + 5, target: 'jti-1', action: 'session.revoke' });
        await writeLayout1Audit(config, [late]);
        expect((await store.listAudit({ offset: 0, limit: 10 })).total).toBe(0);
        expect(await store.purgeAudit(T0)).toBe(0);
        expect((await store.listAudit({ offset: 0, limit: 10 })).items).toEqual([late]);
        expect((await store.listAudit({ offset: 0, limit: 10, action: 'session.revoke' })).items).toEqual([
          late,
        ]);
        expect(await legacyKeys(config)).toEqual([]);
      });

      it('two instances migrating layout 1 at once move each of its entries exactly once', async () => {
        const config = testRedisConfig(TEST_REDIS_URL, false);
        const old = Array.from({ length: 1203 }, (_, i) =>
          auditEntry(`audit_${String(i).padStart(4, '0')}`, {
            atMs: T0 + i,
            action: i % 2 === 0 ? 'login' : 'logout',
          }),
        );
        await writeLayout1Audit(config, old);
        await setLayout(config, '1');
        const store = new RedisStore(config);
        const other = new RedisStore(config);
        opened.push({ store, config }, { store: other, config });
        await Promise.all([store.migrate(), other.migrate()]);
        const listed = await store.listAudit({ offset: 0, limit: 2000 });
        expect(listed.total).toBe(1203);
        expect(listed.items).toEqual([...old].reverse());
        expect((await store.listAudit({ offset: 0, limit: 1, action: 'logout' })).total).toBe(601);
        expect(await legacyKeys(config)).toEqual([]);
      });

      it('hashes removed by TTL leave no trace: listing skips them and purge clears every index', async () => {
        // A 1 ms margin: records whose expiry is past vanish by TTL right away.
        const { store, config } = await open({ ttlMarginMs: 1 });
        await store.createSession(newSession('gone', { exp: T0_SECONDS }));
        await store.insertStoredToken(newToken('tok_gone', { userId: 'usr_x', expiresAtMs: T0 }));
        await waitUntil(
          'the TTL to remove the hashes',
          async () => !(await dumpKeys(config)).some(({ key }) => /:(session|token):/.test(key)),
          { intervalMs: 20 },
        );
        expect(await store.findSession('gone')).toBeNull();
        expect(await store.listSessions()).toEqual([]);
        expect(await store.findStoredToken('tok_gone')).toBeNull();
        expect((await store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW })).items).toEqual([]);
        expect(await store.findCurrentStoredToken(T0 - 1, 'usr_x')).toBeNull();
        expect(await store.purgeStoredTokens(T0 + 1)).toBe(1);
        expect(await store.purgeSessions(T0_SECONDS + 1)).toBe(0);
        const left = (await dumpKeys(config)).map(({ key }) => key.slice(config.prefix.length)).sort();
        expect(left).toEqual(['{tessera}:schema', '{tessera}:tokens:kid-index-built', '{tessera}:version']);
      });

      it('a token whose hash the TTL removed is dropped from its key id set; a live one stays, read whole', async () => {
        const { store, config } = await open({ ttlMarginMs: 1 });
        // TTLs follow the wall clock: the live token expires an hour from the real now.
        const live = newToken('tok_live', { kid: 'k_ttl', expiresAtMs: Date.now() + 3_600_000 });
        await store.insertStoredToken(newToken('tok_gone', { kid: 'k_ttl', expiresAtMs: T0 }));
        await store.insertStoredToken(live);
        await waitUntil(
          'the TTL to remove the expired hash',
          async () => !(await dumpKeys(config)).some(({ key }) => key.endsWith(':token:tok_gone')),
          { intervalMs: 20 },
        );
        expect(await store.countStoredTokensSealedWith('k_ttl')).toBe(2);
        expect(await store.listStoredTokensSealedWith('k_ttl', 10)).toEqual([live]);
        expect(await store.countStoredTokensSealedWith('k_ttl')).toBe(1);
      });

      it('a token hash that lacks a field is reported by every read, never skipped or removed', async () => {
        const { store, config } = await open();
        await store.insertStoredToken(newToken('tok_bad', { kid: 'k_bad' }));
        const key = `${config.prefix}{tessera}:token:tok_bad`;
        const raw = new Redis(TEST_REDIS_URL);
        try {
          expect(await raw.hdel(key, 'id')).toBe(1);
          await expect(store.findStoredToken('tok_bad')).rejects.toThrow('lacks field "id"');
          await expect(store.findCurrentStoredToken(T0)).rejects.toThrow('lacks field "id"');
          await expect(store.listStoredTokens({ offset: 0, limit: 10, nowMs: T0 })).rejects.toThrow(
            'lacks a listed field',
          );
          await expect(store.listStoredTokensSealedWith('k_bad', 10)).rejects.toThrow('lacks field "id"');
          expect(await raw.exists(key)).toBe(1);
          expect(await store.countStoredTokensSealedWith('k_bad')).toBe(1);
        } finally {
          raw.disconnect();
        }
      });

      it('validity filters match a plain sort and filter, on both listing strategies', async () => {
        const { store } = await open();
        // 32 valid and 8 expired tokens, 4 of them expiring exactly at NOW, spread over every
        // savedAtMs. STORED_TOKEN_PAGE walks the listing when matches^2 > (offset + limit) * 40 (here
        // the valid pages reaching row 7 at most, and the expired page of 1) and gathers the
        // matches otherwise; user pages intersect the user's index, findCurrentStoredToken walks it.
        const ids = ['a', 'B', 'b', 'ä', 'Z', '10', '9', 'tok_x', 'tok_X', 'é'];
        const tokens: StoredToken[] = [];
        for (let i = 0; i < 40; i++) {
          tokens.push(
            newToken(`${ids[i % ids.length]}_${Math.floor(i / ids.length)}`, {
              userId: i % 3 === 0 ? 'usr_a' : 'usr_b',
              savedAtMs: T0 + (i % 5),
              expiresAtMs: i % 9 === 4 ? NOW : i % 9 === 7 ? NOW - 1 - i : NOW + 1 + i,
            }),
          );
        }
        for (const token of tokens) await store.insertStoredToken(token);
        for (const valid of [true, false, undefined]) {
          for (const userId of [undefined, 'usr_a', 'usr_b']) {
            const matching = tokens
              .filter((t) => userId === undefined || t.userId === userId)
              .filter((t) => valid === undefined || t.expiresAtMs > NOW === valid)
              .sort(byListingOrder);
            for (const [offset, limit] of [
              [0, 1],
              [0, 5],
              [3, 4],
              [0, 100],
              [35, 10],
            ] as const) {
              const page = await store.listStoredTokens({
                offset,
                limit,
                ...(valid === undefined ? {} : { valid }),
                ...(userId === undefined ? {} : { userId }),
                nowMs: NOW,
              });
              const what = JSON.stringify({ valid, userId, offset, limit });
              expect(
                page.items.map((t) => t.id),
                what,
              ).toEqual(matching.slice(offset, offset + limit).map((t) => t.id));
              expect(page.total, what).toBe(matching.length);
            }
            if (valid === true)
              expect((await store.findCurrentStoredToken(NOW, userId))?.id).toBe(matching[0]?.id);
          }
        }
      });

      it('a walk past a long run of expired tokens (read 2, 4, 8, ... at a time) finds the valid ones behind it', async () => {
        const { store } = await open();
        // The 31 newest tokens expired, then 20 valid ones, then 60 expired. The current token,
        // for everyone and for the user, is found by a walk that reads on through several
        // growing steps; so are the whole listing's valid pages reaching row 3 (20 matches of
        // 111: 20^2 > 3 * 111), where deeper pages and the user's pages gather.
        const tokens: StoredToken[] = [];
        for (let i = 0; i < 111; i++) {
          const valid = i >= 60 && i < 80;
          tokens.push(
            newToken(`tok_${String(i).padStart(3, '0')}`, {
              userId: 'usr_a',
              savedAtMs: T0 + i,
              expiresAtMs: valid ? NOW + 1 + i : NOW - i,
            }),
          );
        }
        for (const token of tokens) await store.insertStoredToken(token);
        const valid = tokens.filter((t) => t.expiresAtMs > NOW).sort(byListingOrder);
        expect(valid).toHaveLength(20);
        expect(valid[0]?.id).toBe('tok_079');
        for (const userId of [undefined, 'usr_a']) {
          expect((await store.findCurrentStoredToken(NOW, userId))?.id).toBe('tok_079');
          for (const [offset, limit] of [
            [0, 1],
            [1, 2],
            [0, 3],
            [4, 5],
            [19, 1],
          ] as const) {
            const page = await store.listStoredTokens({
              offset,
              limit,
              valid: true,
              ...(userId === undefined ? {} : { userId }),
              nowMs: NOW,
            });
            const what = JSON.stringify({ userId, offset, limit });
            expect(
              page.items.map((t) => t.id),
              what,
            ).toEqual(valid.slice(offset, offset + limit).map((t) => t.id));
            expect(page.total, what).toBe(20);
          }
        }
        expect(await store.findCurrentStoredToken(NOW + 80)).toBeNull();
      });

      it('the feed goes down when its connection is killed, comes back up, and delivers again', async () => {
        const { store, config } = await open();
        const other = new RedisStore(config);
        opened.push({ store: other, config });
        const listener = new RecordingListener();
        store.subscribe(listener);
        await listener.waitUp();
        await killClients(`${config.prefix}feed`);
        await waitUntil('down()', () => listener.downs === 1);
        await waitUntil('up() again', () => listener.ups === 2);
        const version = await other.bumpSessionVersion();
        await listener.waitForEvent(
          'the bump after reconnecting',
          (e) => e.type === 'version' && e.version === version,
        );
      });

      it('through a frozen path, plain commands, scripts and PING are unavailable within 2 s; resumed, they work again', async () => {
        const relay = await freezableRelay(TEST_REDIS_URL);
        try {
          const { config } = await open();
          // The same data, through the relay; its keys are removed with `config`'s.
          const store = new RedisStore({ ...config, url: relay.url });
          opened.push({ store, config });
          await store.createSession(newSession('s1'));
          relay.freeze();
          const calls: [string, () => Promise<unknown>][] = [
            ['PING', () => store.ping()],
            ['GET (plain command)', () => store.getSessionVersion()],
            ['HMGET (plain command)', () => store.findStoredToken('tok_1')],
            ['script', () => store.revokeSession('s1', T0)],
          ];
          const outcomes = await Promise.allSettled(
            calls.map(([what, call]) => withDeadline(call(), 2000, what)),
          );
          for (const outcome of outcomes) {
            expect(outcome.status === 'rejected' && outcome.reason).toBeInstanceOf(StoreUnavailableError);
          }
          relay.resume();
          // The late replies go to the calls that gave up on them; new calls get their own.
          await expect(
            waitUntil('the store to answer again', () => store.getSessionVersion(), {
              retryOn: (error) => error instanceof StoreUnavailableError,
            }),
          ).resolves.toBe(1);
          expect((await store.findSession('s1'))?.jti).toBe('s1');
        } finally {
          await relay.close();
        }
      });

      it('feed: a subscriber connection that goes silent is found by the heartbeat, reported down and replaced', async () => {
        const relay = await freezableRelay(TEST_REDIS_URL);
        try {
          const { store: writer, config } = await open();
          const store = new RedisStore({ ...config, url: relay.url }, { feedHeartbeatMs: 100 });
          opened.push({ store, config });
          const listener = new RecordingListener();
          store.subscribe(listener);
          await listener.waitUp();
          relay.freeze('open');
          await waitUntil('down()', () => listener.downs === 1);
          await waitUntil('up() again', () => listener.ups === 2);
          const version = await writer.bumpSessionVersion();
          await listener.waitForEvent(
            'the version event',
            (e) => e.type === 'version' && e.version === version,
          );
        } finally {
          await relay.close();
        }
      });

      it('a killed command connection fails requests as unavailable, then reconnects by itself', async () => {
        const { store, config } = await open();
        await store.createSession(newSession('s1'));
        await killClients(`${config.prefix}store`);
        // Until the reconnect, a try fails as unavailable; any other failure fails the test.
        const found = await waitUntil('the store to reconnect', () => store.findSession('s1'), {
          intervalMs: 20,
          retryOn: (error) => error instanceof StoreUnavailableError,
        });
        expect(found.jti).toBe('s1');
      });
    });
  },
);

/** Kills this run's connections by client name (never anyone else's: names carry the prefix). */
async function killClients(name: string): Promise<void> {
  const admin = new Redis(TEST_REDIS_URL);
  try {
    const list = (await admin.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /^id=(\d+)/.exec(line)?.[1]);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) await admin.client('KILL', 'ID', id as string);
  } finally {
    admin.disconnect();
  }
}
