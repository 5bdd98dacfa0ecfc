// Measures the admin console as a browser sees it: `node scripts/measure-console.mjs URL ADMIN_KEY [LOADS]`
// against a running Tessera (`npm start`). For each load, in a fresh headless Chromium context:
// sign in, clear the cache, then time a signed-in load of `/` until the sessions table's own
// row has its Revoke button (cold), and a reload with the assets cached (warm); and count the
// bytes of JavaScript and CSS transferred (as sent, gzipped) and decoded.
import { chromium } from 'playwright-core';

const [url, adminKey, loadsText = '5'] = process.argv.slice(2);
if (url === undefined || adminKey === undefined) {
  process.stderr.write('usage: node scripts/measure-console.mjs URL ADMIN_KEY [LOADS]\n');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
/** @type {{cold: number, warm: number, transferred: number, decoded: number}[]} */
const loads = [];
for (let n = 0; n < Number(loadsText); n++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/`);
  await page.getByLabel('Admin key').fill(adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('tr.current').waitFor();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.clearBrowserCache');
  /** @type {Map<string, {url: string, transferred: number, decoded: number}>} */
  const responses = new Map();
  cdp.on('Network.responseReceived', (e) =>
    responses.set(e.requestId, { url: e.response.url, transferred: 0, decoded: 0 }),
  );
  cdp.on('Network.dataReceived', (e) => {
    const response = responses.get(e.requestId);
    if (response !== undefined) response.decoded += e.dataLength;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const response = responses.get(e.requestId);
    if (response !== undefined) response.transferred = e.encodedDataLength;
  });
  let started = performance.now();
  await page.goto(`${url}/`);
  await page.locator('tr.current button').waitFor();
  const cold = performance.now() - started;
  const assets = [...responses.values()].filter((r) => /\/assets\/[^/]+\.(js|css)$/.test(r.url));
  started = performance.now();
  await page.reload();
  await page.locator('tr.current button').waitFor();
  const warm = performance.now() - started;
  loads.push({
    cold: Math.round(cold),
    warm: Math.round(warm),
    transferred: assets.reduce((sum, r) => sum + r.transferred, 0),
    decoded: assets.reduce((sum, r) => sum + r.decoded, 0),
  });
  await context.close();
}
await browser.close();
const sorted = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b);
const cold = sorted(loads.map((l) => l.cold));
const warm = sorted(loads.map((l) => l.warm));
console.log(JSON.stringify({ loads, coldMedianMs: cold[Math.floor(cold.length / 2)], warm }, null, 2));
