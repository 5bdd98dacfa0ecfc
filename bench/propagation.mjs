// @ts-check
// Revocation propagation: how long a revocation on one instance takes to be refused by a
// second instance on the same store.
import { backendEnv } from './backends.mjs';
import { ADMIN_KEY, call, login, percentile, startServer } from './lib.mjs';

/**
 * Two instances on one store: revoke on A, poll B until it refuses.
 * @param {string} backend @param {number} trials @param {(line: string) => void} log
 */
export async function measurePropagation(backend, trials, log) {
  const { env, cleanup } = await backendEnv(backend, 'propagation');
  const a = await startServer(env);
  const b = await startServer(env);
  const key = { 'x-admin-key': ADMIN_KEY };
  /** @param {string} token */
  const refusedByB = async (token) =>
    (await fetch(`${b.url}/api/admin/session`, { headers: { authorization: `Bearer ${token}` } })).status ===
    401;
  /** @param {(jti: string) => Promise<unknown>} revoke */
  async function trial(revoke) {
    const { token, jti } = await login(a.url);
    if (await refusedByB(token)) throw new Error('instance B refused a fresh session');
    const began = performance.now();
    await revoke(jti);
    const deadline = began + 5000;
    while (!(await refusedByB(token))) {
      if (performance.now() > deadline)
        throw new Error('instance B still accepts a revoked session after 5 s');
    }
    return performance.now() - began;
  }
  try {
    const one = [];
    const all = [];
    for (let i = 0; i < trials; i++) {
      one.push(
        await trial((jti) =>
          call(`${a.url}/api/admin/tokens/sessions/${jti}`, { method: 'DELETE', headers: key }),
        ),
      );
      all.push(await trial(() => call(`${a.url}/api/admin/tokens/revoke`, { method: 'POST', headers: key })));
    }
    const summary = (/** @type {number[]} */ values) => ({
      p50: Math.round(percentile(values, 50) * 100) / 100,
      p99: Math.round(percentile(values, 99) * 100) / 100,
      trials: values.length,
    });
    const result = { backend, revokeOne: summary(one), revokeAll: summary(all) };
    log(
      `  ${backend.padEnd(8)} propagation: revoke one p50 ${result.revokeOne.p50} ms p99 ${result.revokeOne.p99} ms; revoke all p50 ${result.revokeAll.p50} ms p99 ${result.revokeAll.p99} ms`,
    );
    return result;
  } finally {
    await a.stop();
    await b.stop();
    await cleanup();
  }
}
