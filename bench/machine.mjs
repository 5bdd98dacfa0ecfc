// @ts-check
// What a run ran on: the machine and every server's version, printed and kept in latest.json.
import { execFile } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DATABASE_URL, REDIS_URL } from './backends.mjs';
import { LOAD_TOOL } from './lib.mjs';

const run = promisify(execFile);

/** @param {() => Promise<string>} read */
const orUnknown = (read) => read().catch(() => 'unknown');

export async function describeMachine() {
  const cores = cpus();
  const postgres = await orUnknown(async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      return String((await client.query('SHOW server_version')).rows[0].server_version);
    } finally {
      await client.end();
    }
  });
  const redis = await orUnknown(async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
    } finally {
      client.disconnect();
    }
  });
  // `wrk -v` prints its version and usage, and exits 1.
  const wrk = await orUnknown(async () => {
    const output = await run('wrk', ['-v']).then(
      ({ stdout }) => stdout,
      (/** @type {{ stdout?: string }} */ error) => error.stdout ?? '',
    );
    return /^wrk (\S+)/m.exec(output)?.[1] ?? 'unknown';
  });
  return {
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    redis,
    wrk,
    loadTool: LOAD_TOOL,
  };
}

/** @param {Awaited<ReturnType<typeof describeMachine>>} m */
export const machineLine = (m) =>
  `${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}, Postgres ${m.postgres}, Redis ${m.redis}, wrk ${m.wrk} (load from ${m.loadTool})`;
