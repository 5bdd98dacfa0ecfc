import { describe } from 'vitest';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REQUIRED = process.env.TESSERA_REQUIRE_SERVICES === '1';

/**
 * `describe` for a suite that needs a real server. When `probe` fails the suite is skipped
 * with a loud warning, or, under TESSERA_REQUIRE_SERVICES=1 (CI), the run fails.
 */
export async function describeWithService(
  service: string,
  probe: () => Promise<void>,
  name: string,
  body: () => void,
) {
  let problem: string | null = null;
  try {
    await probe();
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  if (problem === null) return describe(name, body);
  if (REQUIRED) {
    return describe(name, () => {
      throw new Error(`${service} is required (TESSERA_REQUIRE_SERVICES=1) but not reachable: ${problem}`);
    });
  }
  console.warn(
    `\n!!! SKIPPING ${name}: ${service} is not reachable (${problem}). Set TESSERA_REQUIRE_SERVICES=1 to fail instead.\n`,
  );
  return describe.skip(name, body);
}

/** A name unique to this run, for a Postgres schema or a Redis key prefix. */
export const uniqueName = (base: string) =>
  `${base}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
