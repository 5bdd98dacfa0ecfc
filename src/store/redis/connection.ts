import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { backoffDelay } from '../../backoff.js';
import type { BackendConfig } from '../../config.js';
import { ConfigError } from '../../errors.js';

export type RedisBackendConfig = Extract<BackendConfig, { kind: 'redis' }>;

/** A single server or a cluster: both speak the same commands. */
export type RedisClient = Redis | Cluster;

export interface ConnectionTimeouts {
  /** Longest wait for a TCP (and TLS) connection. */
  connectTimeoutMs: number;
  /** Longest wait for one reply; also bounds a command lost on a dropped connection. */
  commandTimeoutMs: number;
}

export interface ParsedRedisUrl {
  host: string;
  port: number;
  /** What a connection to any node needs: credentials, TLS, database and failure policy. */
  options: RedisOptions;
}

/**
 * How long Redis may keep a request waiting, in one place. A server that accepts connections
 * but stops answering (a paused or overloaded process, a network path that drops packets
 * without a reset) must not hold requests: every wait is bounded, so a request gets its answer
 * or 503 STORE_UNAVAILABLE within 2 s, and /readyz says 503 meanwhile.
 */
export const REDIS_DEADLINES = {
  /** A TCP (and TLS) connection. */
  connectMs: 1500,
  /**
   * The reply to one command (a script, PING, the connection handshake): what catches a peer
   * gone silent without closing. A request waits no longer for the first connection either.
   */
  commandMs: 1500,
  /**
   * The change feed's heartbeat: a PING on the subscriber connection this often, each answered
   * before the next, so a feed gone silent is reported down within two beats and session
   * checks stop answering from memory.
   */
  feedHeartbeatMs: 1000,
} as const;

/** Reconnect with backoff: 100 ms, 200 ms, 400 ms ... capped at 2 s, forever. */
export const reconnectDelay = (attempt: number): number => backoffDelay(attempt, 100, 2000);

/**
 * Reads `redis://[user:pass@]host[:port][/db]` or `rediss://...` (TLS, as Vercel KV and Upstash
 * give it). The failure policy makes a request fail fast when the server is gone, instead of
 * queueing: no offline queue, one retry, a reply deadline, and no resending of a command whose
 * reply was lost (a script may have run; its caller gets "unavailable", never a second run).
 */
export function parseRedisUrl(url: string, timeouts: ConnectionTimeouts): ParsedRedisUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(['DATABASE_URL is not a valid redis:// or rediss:// URL']);
  }
  const tls = parsed.protocol === 'rediss:';
  if (!tls && parsed.protocol !== 'redis:') {
    throw new ConfigError([`DATABASE_URL must start with redis:// or rediss://, got ${parsed.protocol}`]);
  }
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,2}$/.test(path)) {
    throw new ConfigError([`DATABASE_URL: the path must be a database number, as in /0, got /${path}`]);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const options: RedisOptions = {
    db: path === '' ? 0 : Number(path),
    connectTimeout: timeouts.connectTimeoutMs,
    commandTimeout: timeouts.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
  };
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
  // Node checks the certificate against the host (SNI too); that check is never turned off.
  if (tls) options.tls = {};
  return { host, port: parsed.port === '' ? 6379 : Number(parsed.port), options };
}

/**
 * Opens the client for the store's commands; it connects (and later reconnects) by itself.
 * `name` is what CLIENT LIST shows for it.
 */
export function createClient(server: ParsedRedisUrl, cluster: boolean, name: string): RedisClient {
  const { host, port } = server;
  const options: RedisOptions = { ...server.options, connectionName: name };
  if (!cluster) return new Redis({ ...options, host, port });
  if (options.db !== 0) {
    throw new ConfigError(['DATABASE_URL: Redis Cluster has only database 0; drop the /db path']);
  }
  const { db: _db, enableOfflineQueue: _queue, retryStrategy: _retry, ...nodeOptions } = options;
  return new Cluster([{ host, port }], {
    redisOptions: nodeOptions,
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    // A node that stops answering is retried briefly (failover), then the request fails.
    retryDelayOnFailover: 100,
    maxRedirections: 8,
    slotsRefreshTimeout: options.connectTimeout ?? 2000,
  });
}

/**
 * Opens the change feed's own connection (a subscribed connection can run nothing else).
 * On a cluster, a plain connection to any one node hears every PUBLISH, since the cluster bus
 * broadcasts them; it gives up on a node after a few failed reconnects so the feed moves to
 * another node the client knows (`generation` picks which; the caller starts it at random so
 * many instances spread their subscriptions over the nodes).
 */
export function createSubscriber(
  server: ParsedRedisUrl,
  client: RedisClient,
  generation: number,
  name: string,
): Redis {
  const options: RedisOptions = { ...server.options, connectionName: name, autoResubscribe: false };
  if (!(client instanceof Cluster)) return new Redis({ ...options, host: server.host, port: server.port });
  const nodes = client
    .nodes('all')
    .map((node) => ({ host: node.options.host ?? server.host, port: node.options.port ?? server.port }));
  const node = nodes[generation % Math.max(nodes.length, 1)] ?? { host: server.host, port: server.port };
  return new Redis({
    ...options,
    ...node,
    retryStrategy: (attempt) => (attempt > 3 ? null : reconnectDelay(attempt)),
  });
}
