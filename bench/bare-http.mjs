// @ts-check
// The bench's anchor: the physical limit of answering /healthz on this machine. A bare
// `node:http` server, no framework, sending the exact bytes and headers Tessera's /healthz
// sends (JSON body, content type, nosniff; Date and keep-alive come from node:http as they do
// under Fastify). `npm run bench` starts it as its own process and reports every case as a
// ratio to it.
import { createServer } from 'node:http';

const BODY = Buffer.from(JSON.stringify({ status: 'ok' }));
const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'x-content-type-options': 'nosniff',
  'content-length': String(BODY.length),
};

/**
 * With BARE_HOLD_ANSWERS=1, the answers made while a turn's requests are read are written when
 * the turn ends, as Tessera's fast answers are (src/http/fast-answers.ts): the bench reports
 * this server beside the anchor, so a ratio above 1 is read against what the same technique
 * gives a bare server. The anchor itself answers each request at once.
 */
const HOLD_ANSWERS = process.env.BARE_HOLD_ANSWERS === '1';
/** @type {import('node:http').ServerResponse[] | null} */
let held = null;
const release = () => {
  const answers = held ?? [];
  held = null;
  for (const response of answers) {
    response.writeHead(200, HEADERS);
    response.end(BODY);
  }
};

const server = createServer((request, response) => {
  if (request.url === '/healthz') {
    if (HOLD_ANSWERS) {
      if (held === null) {
        held = [];
        setImmediate(release);
      }
      held.push(response);
      return;
    }
    response.writeHead(200, HEADERS);
    response.end(BODY);
    return;
  }
  response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
  response.end('{"error":"not found"}');
});
// Fastify's default, so both keep idle connections the same way.
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
