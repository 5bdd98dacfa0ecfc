import { hash } from 'node:crypto';
import type { RandomSource } from '../clock.js';
import { StoreUnavailableError } from '../errors.js';
import { FeedFollower } from '../store/feed/follower.js';
import type { Store } from '../store/types.js';

/** SHA-256 of the key, hex. A generated key has 256 random bits, so a fast hash is enough. */
export const hashAdminKey = (key: string): string => hash('sha256', key, 'hex');

/** 32 random bytes, base64url: 43 characters, 256 bits of entropy. */
export const generateAdminKey = (random: RandomSource): string => random(32).toString('base64url');

/**
 * Compares a presented key with the stored hash in constant time. Both sides are hashed to
 * the same length first, so neither the key's length nor a matching prefix leaks through timing.
 * `storedHash` may be a getter: null means the hash is not known yet (the store is still
 * being reached at start-up), which refuses with STORE_UNAVAILABLE, naming `backend`, rather
 * than guessing.
 */
export function createAdminKeyCheck(
  storedHash: string | (() => string | null),
  backend: Store['backend'],
): (presented: string) => boolean {
  const current = typeof storedHash === 'string' ? () => storedHash : storedHash;
  let storedHex = '';
  let expected = '';
  return (presented) => {
    const hex = current();
    if (hex === null) throw new StoreUnavailableError(backend, 'admin key not loaded yet');
    if (hex !== storedHex) {
      storedHex = hex;
      expected = hex.toLowerCase();
    }
    // One-shot hash, straight to hex: a Hash object per request costs about 5 times as much
    // under load, and a Buffer (for timingSafeEqual) three times as much.
    return sameLengthEqual(hashAdminKey(presented), expected);
  };
}

/**
 * Whether two strings are equal, in time that depends on their length only (no early exit);
 * both sides here are 64-character SHA-256 hex digests.
 */
export function sameLengthEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * The admin key hash in force. `ADMIN_KEY` set: its hash (nothing stored). Unset: the hash
 * kept in the store, or on the very first start a new key, whose hash is stored (first writer
 * wins when several instances start at once) and which is returned once so it can be shown.
 */
export async function resolveAdminKey(
  store: Pick<Store, 'getAdminKeyHash' | 'initAdminKeyHash'>,
  configuredKey: string | null,
  random: RandomSource,
): Promise<{ hash: string; generatedKey: string | null }> {
  if (configuredKey !== null) return { hash: hashAdminKey(configuredKey), generatedKey: null };
  const stored = await store.getAdminKeyHash();
  if (stored !== null) return { hash: stored, generatedKey: null };
  const key = generateAdminKey(random);
  const hash = hashAdminKey(key);
  const inForce = await store.initAdminKeyHash(hash);
  return { hash: inForce, generatedKey: inForce === hash ? key : null };
}

export interface AdminKeyOptions {
  store: Store;
  /**
   * The hash in force, or a getter answering null while it is not known yet (the store is
   * still being reached at start-up).
   */
  hash: string | (() => string | null);
  /** The key comes from ADMIN_KEY: it can only be changed there, never rotated through the API. */
  fromEnvironment: boolean;
  random: RandomSource;
  onError(error: unknown, context: string): void;
}

/**
 * The admin key in force on this instance. A key kept in the store can be rotated: the new
 * hash reaches every instance through the change feed (`admin_key_rotated`), and while the feed
 * is down, or a rotation has been heard but not yet read, each check reads the store, so a
 * rotated-away key is never let in.
 */
export class AdminKey {
  private rotated: string | null = null;
  /** Rotations heard from the feed, and how many of them a completed read has taken in. */
  private heard = 0;
  private applied = 0;
  private readonly feed: FeedFollower;
  private readonly compare: (presented: string) => boolean;

  constructor(private readonly options: AdminKeyOptions) {
    const configured = options.hash;
    const current = typeof configured === 'string' ? () => configured : configured;
    this.compare = createAdminKeyCheck(() => this.rotated ?? current(), options.store.backend);
    this.feed = new FeedFollower(options.store, {
      what: 'admin key feed',
      onError: options.onError,
      event: (event) => {
        if (event.type !== 'admin_key_rotated') return;
        this.heard++;
        void this.reload().catch((error: unknown) => options.onError(error, 'admin key reload'));
      },
      resync: () => this.reload(),
    });
  }

  get fromEnvironment(): boolean {
    return this.options.fromEnvironment;
  }

  start(): void {
    if (!this.options.fromEnvironment) this.feed.start();
  }

  stop(): void {
    this.feed.stop();
  }

  /** True for the admin key; STORE_UNAVAILABLE while the hash is not known. */
  async check(presented: string): Promise<boolean> {
    if (!this.options.fromEnvironment && (!this.feed.isLive || this.applied !== this.heard))
      await this.reload();
    return this.compare(presented);
  }

  /** `check`'s answer when no store read is due, with no promise made; undefined otherwise. */
  checkNow(presented: string): boolean | undefined {
    if (!this.options.fromEnvironment && (!this.feed.isLive || this.applied !== this.heard)) return undefined;
    try {
      return this.compare(presented);
    } catch {
      // The hash is not known yet: `check` says so.
      return undefined;
    }
  }

  /** Makes a new key, puts it in force on every instance, and returns it (the only time it is shown). */
  async rotate(): Promise<string> {
    const key = generateAdminKey(this.options.random);
    const hashed = hashAdminKey(key);
    await this.options.store.rotateAdminKeyHash(hashed);
    this.rotated = hashed;
    return key;
  }

  private async reload(): Promise<void> {
    const heard = this.heard;
    const stored = await this.options.store.getAdminKeyHash();
    if (stored !== null) this.rotated = stored;
    this.applied = Math.max(this.applied, heard);
  }
}
