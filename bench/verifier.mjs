// @ts-check
// tessera/verify: checks of a known token per second in process; a revocation made through the
// API, timed until a verifier in another process refuses it; and the same check as a network
// call (GET /api/admin/session over loopback), the cost a verifier avoids.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createSessionVerifier } from '#dist/verify/index.js';
import { backendEnv } from './backends.mjs';
import { ADMIN_KEY, call, loadTest, login, percentile, startServer } from './lib.mjs';

const KEY = { 'x-admin-key': ADMIN_KEY };

/** @param {string} url */
async function sessionsReadKey(url) {
  const created = await call(`${url}/api/admin/api-keys`, {
    method: 'POST',
    headers: KEY,
    body: { name: 'bench verifier', scopes: ['sessions:read'] },
  });
  if (created.status !== 201) throw new Error(`API key not created: ${created.status}`);
  return String(created.json.key);
}

/**
 * `verify()` of one known token, awaited one after another, for `seconds`: checks per second
 * on the bench's one thread. @param {string} url @param {number} seconds
 */
async function measureInProcess(url, seconds) {
  const verifier = createSessionVerifier({ url, apiKey: await sessionsReadKey(url) });
  try {
    await verifier.ready;
    const { token } = await login(url);
    if ((await verifier.verify(token)) === null) throw new Error('the verifier refused a fresh session');
    let checks = 0;
    const began = performance.now();
    const until = began + seconds * 1000;
    while (performance.now() < until) {
      // Batches of 10,000 keep the clock reads out of the figure.
      for (let i = 0; i < 10_000; i++)
        if ((await verifier.verify(token)) === null) throw new Error('refused');
      checks += 10_000;
    }
    return Math.round(checks / ((performance.now() - began) / 1000));
  } finally {
    verifier.close();
  }
}

/**
 * Revocation through the API (instance A), refused by a verifier in another process following
 * `followUrl`. @param {string} revokeUrl @param {string} followUrl @param {number} trials
 */
async function measureRevocation(revokeUrl, followUrl, trials) {
  const child = fork(fileURLToPath(new URL('./verifier-child.mjs', import.meta.url)), {
    env: { ...process.env, TESSERA_URL: followUrl, TESSERA_API_KEY: await sessionsReadKey(revokeUrl) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  /** @param {string} type */
  const next = async (type) => {
    const [message] = /** @type {[{ type: string, message?: string }]} */ (await once(child, 'message'));
    if (message.type !== type) throw new Error(`verifier process: ${message.message ?? message.type}`);
  };
  try {
    await next('ready');
    const times = [];
    for (let i = 0; i < trials; i++) {
      const { token, jti } = await login(revokeUrl);
      child.send({ type: 'watch', token });
      await next('watching');
      const refused = next('refused');
      const began = performance.now();
      const revoked = await call(`${revokeUrl}/api/admin/tokens/sessions/${jti}`, {
        method: 'DELETE',
        headers: KEY,
      });
      if (revoked.status !== 200) throw new Error(`revoke failed: ${revoked.status}`);
      await refused;
      times.push(performance.now() - began);
    }
    return {
      p50: Math.round(percentile(times, 50) * 100) / 100,
      p99: Math.round(percentile(times, 99) * 100) / 100,
      trials: times.length,
    };
  } finally {
    child.send({ type: 'stop' });
    await once(child, 'exit');
  }
}

/**
 * @param {string} backend
 * @param {{ trials: number, seconds: number, inProcess: boolean, log: (line: string) => void }} options
 */
export async function measureVerifier(backend, { trials, seconds, inProcess, log }) {
  const { env, cleanup } = await backendEnv(backend, 'verifier');
  const a = await startServer(env);
  // On a shared store the verifier follows another instance; SQLite is one process.
  const b = backend === 'sqlite' ? a : await startServer(env);
  try {
    const revocation = await measureRevocation(a.url, b.url, trials);
    const result = {
      backend,
      revocation,
      verifyPerSecond: /** @type {number | null} */ (null),
      networkCheckRps: /** @type {number | null} */ (null),
    };
    log(
      `  ${backend.padEnd(8)} verifier: revocation refused in another process p50 ${revocation.p50} ms p99 ${revocation.p99} ms (${trials} trials)`,
    );
    if (inProcess) {
      result.verifyPerSecond = await measureInProcess(b.url, seconds);
      const { token } = await login(a.url);
      const network = await loadTest({
        url: `${b.url}/api/admin/session`,
        seconds,
        headers: { authorization: `Bearer ${token}` },
      });
      if (network.non2xx > 0 || network.errors > 0)
        throw new Error('GET /api/admin/session failed under load');
      result.networkCheckRps = Math.round(network.rps);
      log(
        `  ${backend.padEnd(8)} verifier: verify() of a known token ${result.verifyPerSecond.toLocaleString('en')} /s in process; GET /api/admin/session over loopback ${result.networkCheckRps.toLocaleString('en')} /s`,
      );
    }
    return result;
  } finally {
    await a.stop();
    if (b !== a) await b.stop();
    await cleanup();
  }
}
