// @ts-check
// A verifier in its own process, as an application runs it (bench/verifier.mjs drives it over
// IPC): `watch` checks a token once (first sight), then polls it until it is refused and says
// so; the parent times from the revocation to that message.
import { setTimeout as sleep } from 'node:timers/promises';
import { createSessionVerifier } from '#dist/verify/index.js';

const url = String(process.env.TESSERA_URL);
const apiKey = String(process.env.TESSERA_API_KEY);
const verifier = createSessionVerifier({ url, apiKey });
const send = (/** @type {unknown} */ message) => process.send?.(message);

await verifier.ready;
send({ type: 'ready' });
process.on('message', async (/** @type {{ type: string, token: string }} */ message) => {
  if (message.type === 'stop') {
    verifier.close();
    process.disconnect();
    return;
  }
  const { token } = message;
  if ((await verifier.verify(token)) === null)
    return send({ type: 'error', message: 'a fresh session was refused' });
  send({ type: 'watching' });
  // Polled every millisecond, as requests would come: a busy loop would take a core from the
  // servers on a small machine.
  while ((await verifier.verify(token)) !== null) await sleep(1);
  send({ type: 'refused' });
});
