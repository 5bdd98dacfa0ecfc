import type {
  AuditEntry,
  FeedEvent,
  FeedListener,
  NewSession,
  Store,
  StoredToken,
} from '../../src/store/types.js';
import { T0, T0_SECONDS } from '../support/time.js';
import { waitUntil } from '../support/wait.js';

/** What a backend's test file hands the contract suite: one fresh, migrated, empty store. */
export interface StoreFixture {
  store: Store;
  /** Closes nothing; opens a NEW store instance on the same data (same file/schema/prefix), migrated. */
  reopen(): Promise<Store>;
  /** Drops the schema / prefix / file. Runs after every store of the fixture is closed. */
  cleanup(): Promise<void>;
}

/**
 * How writes by one instance reach another instance's listeners. `events`: as events
 * (Postgres NOTIFY, Redis pub/sub). `resync`: as a down/up pair, after which the listener
 * re-reads the store (SQLite: the feed's poll sees another connection's commit move
 * data_version).
 */
export type CrossInstanceFeed = 'events' | 'resync';

/** What each part of the suite sees of the running test's fixture. */
export interface ContractContext {
  readonly fixture: StoreFixture;
  readonly store: Store;
  /** `fixture.reopen()`, closed by the suite after the test. */
  reopen(): Promise<Store>;
}

/** A session active at T0 under session version 1, with no ip or user agent. */
export const newSession = (jti: string, overrides: Partial<NewSession> = {}): NewSession => ({
  jti,
  iat: T0_SECONDS,
  exp: T0_SECONDS + 3600,
  v: 1,
  createdAtMs: T0,
  ip: null,
  userAgent: null,
  ...overrides,
});

/**
 * Bytes a careless backend would mangle: NULs (C strings), bytes >= 0x80 (UTF-8 decoding),
 * and a trailing zero (trimmed buffers).
 */
export const awkwardBytes = (seed: number): Buffer =>
  Buffer.from([0, seed & 0xff, 0xff, 0xfe, 0x80, 0x00, 0x7f, 0xc3, 0x28, 0x00, 0xe2, 0x82, 0x00]);

export const newToken = (id: string, overrides: Partial<StoredToken> = {}): StoredToken => ({
  id,
  userId: 'usr_a',
  kid: 'k1',
  sealed: awkwardBytes(id.length),
  preview: 'eyJhbGci...Q3Yk',
  expiresAtMs: T0 + 3_600_000,
  savedAtMs: T0,
  createdAtMs: T0,
  ...overrides,
});

export const auditEntry = (id: string, overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  id,
  atMs: T0,
  action: 'login',
  actor: 'admin_key',
  ip: '203.0.113.7',
  userAgent: 'curl/8',
  target: null,
  reason: null,
  ...overrides,
});

/**
 * Audit entries of token reads among others, `audit_00` to `audit_04`, a millisecond apart
 * from T0 unless `atMs` says otherwise: for the migrations that change how the SQL stores index
 * the trail by action (token reads are left out of that index).
 */
export const readsAmongOthers = (atMs: (i: number) => number = (i) => T0 + i): AuditEntry[] =>
  ['storage.read_token', 'login', 'storage.read_token', 'session.revoke', 'storage.read_token'].map(
    (action, i) => auditEntry(`audit_0${i}`, { atMs: atMs(i), action }),
  );

/** A feed listener that records what it is told. */
export class RecordingListener implements FeedListener {
  readonly events: FeedEvent[] = [];
  ups = 0;
  downs = 0;

  event(event: FeedEvent): void {
    this.events.push(event);
  }
  up(): void {
    this.ups++;
  }
  down(): void {
    this.downs++;
  }

  /** Resolves once `up()` has been called: mutations from then on must be delivered. */
  async waitUp(): Promise<void> {
    await waitUntil('the feed to come up', () => this.ups > 0);
  }

  /** Feed events arrive asynchronously on networked backends: this waits exactly as long as needed. */
  async waitForEvent(what: string, match: (event: FeedEvent) => boolean): Promise<void> {
    await waitUntil(what, () => this.events.some(match));
  }
}
