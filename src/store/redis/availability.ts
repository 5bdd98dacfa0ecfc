import { StoreUnavailableError } from '../../errors.js';
import type { RedisClient } from './connection.js';

/**
 * Answers "can the store take a request now?" so that a request fails at once while Redis is
 * unreachable, instead of queueing behind a reconnect: while the first connection is being
 * made a request waits (briefly); once a connection attempt has failed, requests are refused
 * until the client is 'ready' again. The client keeps reconnecting on its own meanwhile.
 */
export class ConnectionGate {
  private closed = false;
  /** Why the last connection attempt failed; null while connected or before any failure. */
  private lastFailure: Error | null = null;
  private readonly waiters = new Set<(failure: Error | null) => void>();

  constructor(
    private readonly client: RedisClient,
    private readonly waitMs: number,
  ) {
    client.on('error', (error: Error) => {
      this.lastFailure = error;
    });
    client.on('ready', () => {
      this.lastFailure = null;
      this.settle(null);
    });
    client.on('close', () => {
      this.lastFailure ??= new Error('Connection is closed.');
      this.settle(this.lastFailure);
    });
  }

  /** Runs `operation` once connected, reporting connection trouble as StoreUnavailableError. */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    await this.connected();
    try {
      return await operation();
    } catch (error) {
      throw mapRedisError(error);
    }
  }

  /** From now on every request is refused as unavailable. */
  close(): void {
    this.closed = true;
    this.settle(new Error('store closed'));
  }

  private settle(failure: Error | null): void {
    for (const settle of [...this.waiters]) settle(failure);
  }

  private connected(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('redis', new Error('store closed')));
    if (this.client.status === 'ready') return Promise.resolve();
    if (this.lastFailure !== null)
      return Promise.reject(new StoreUnavailableError('redis', this.lastFailure));
    return new Promise((resolve, reject) => {
      const settle = (failure: Error | null) => {
        clearTimeout(timer);
        this.waiters.delete(settle);
        if (failure === null) resolve();
        else reject(new StoreUnavailableError('redis', failure));
      };
      const timer = setTimeout(() => settle(new Error(`not connected after ${this.waitMs} ms`)), this.waitMs);
      this.waiters.add(settle);
    });
  }
}

/** Replies that mean "the server cannot serve now", not "the request was wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|CLUSTERDOWN|MASTERDOWN|READONLY|TRYAGAIN|BUSY|NOREPLICAS|OOM)\b/;
/** Client-side failures: no connection, lost connection, no reply in time. */
const UNAVAILABLE_CLIENT =
  /Connection is closed|Stream isn't writeable|Cluster isn't ready|Command timed out|None of startup nodes|Failed to refresh slots|Cluster is ended|No subscriber for the cluster|Too many Cluster redirections|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EPIPE|EAI_AGAIN/;
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'AbortError']);

/**
 * Turns connection trouble into StoreUnavailableError (503 upstream); leaves other errors,
 * such as a script's own refusal, as they are so they are not mistaken for an outage.
 */
export function mapRedisError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !(error instanceof Error)) return error;
  const unavailable =
    error.name === 'ReplyError'
      ? UNAVAILABLE_REPLY.test(error.message)
      : UNAVAILABLE_NAMES.has(error.name) ||
        UNAVAILABLE_CLIENT.test(error.message) ||
        typeof (error as { syscall?: unknown }).syscall === 'string';
  return unavailable ? new StoreUnavailableError('redis', error) : error;
}
