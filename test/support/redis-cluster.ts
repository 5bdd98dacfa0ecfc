import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './wait.js';

const run = promisify(execFile);

/** A throwaway Redis Cluster of real `redis-server` processes on loopback. */
export interface RedisCluster {
  /** `redis://127.0.0.1:<first port>`: a seed; the client discovers the rest. */
  url: string;
  ports: number[];
  /** The port of the master serving `key`'s slot. */
  ownerOf(key: string): Promise<number>;
  /** SIGKILLs one node (as a crash would) and waits until it is gone. */
  killNode(port: number): Promise<void>;
  /** Starts a killed node again (same node id from its nodes.conf) and waits for `cluster_state:ok`. */
  restartNode(port: number): Promise<void>;
  stop(): Promise<void>;
}

const cli = async (port: number, ...args: string[]): Promise<string> =>
  (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout;

/** How the cluster's set-up polls `redis-cli`: a failed call (node not up yet) only means "not yet". */
const POLL = { intervalMs: 50, retryOn: () => true };

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** `count` ports P, each with its cluster bus port P + 10000 free too. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 500; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (ports.includes(port) || !(await portIsFree(port)) || !(await portIsFree(port + 10_000))) continue;
    ports.push(port);
  }
  if (ports.length < count) throw new Error('redis cluster: no free loopback ports');
  return ports;
}

const live = new Set<ChildProcess>();
// Children outlive a parent that exits without stop() (a crashed or interrupted run).
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `masters` cluster-enabled `redis-server`s in a temp dir, joins them with
 * `redis-cli --cluster create` (no replicas) and waits until every node reports
 * `cluster_state:ok`. Throws when `redis-server` or `redis-cli` is missing.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  await run('redis-server', ['--version']);
  await run('redis-cli', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-cluster-'));
  const ports = await freePorts(masters);
  const processes = new Map<number, ChildProcess>();

  const startNode = (port: number) => {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        // Short, so a killed node is marked failed (and a restarted one trusted) quickly.
        '--cluster-node-timeout',
        '2000',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--logfile',
        join(dir, `redis-${port}.log`),
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    live.add(child);
    child.once('exit', () => live.delete(child));
    processes.set(port, child);
    return waitUntil(`redis-server on ${port}`, async () => (await cli(port, 'ping')).trim() === 'PONG', {
      ...POLL,
      timeoutMs: 10_000,
    });
  };
  const allOk = () =>
    waitUntil(
      'cluster_state:ok on every node of the redis cluster',
      async () => {
        for (const port of ports) {
          if (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
        }
        return true;
      },
      { ...POLL, timeoutMs: 30_000 },
    );
  const stopNode = async (port: number) => {
    const child = processes.get(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    await Promise.all(ports.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(ports.map(startNode));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await allOk();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url: `redis://127.0.0.1:${ports[0]}`,
    ports,
    async ownerOf(key) {
      const first = ports[0] as number;
      const slot = Number((await cli(first, 'cluster', 'keyslot', key)).trim());
      const owner = (await cli(first, 'cluster', 'nodes'))
        .split('\n')
        .find((line) => line.includes('master') && ownsSlot(line, slot));
      // Fields: id, ip:port@busport, flags, ...
      const port = owner?.split(' ')[1]?.match(/:(\d+)@/)?.[1];
      if (port === undefined) throw new Error(`redis cluster: no master serves slot ${slot}`);
      return Number(port);
    },
    killNode: stopNode,
    async restartNode(port) {
      await startNode(port);
      await allOk();
    },
    stop,
  };
}

/** Whether a `CLUSTER NODES` line lists `slot` among its ranges (`0-5460 5461 ...`). */
function ownsSlot(line: string, slot: number): boolean {
  return line
    .split(' ')
    .slice(8)
    .some((range) => {
      const [from, to = from] = range.split('-').map(Number);
      return from !== undefined && to !== undefined && slot >= from && slot <= to;
    });
}
