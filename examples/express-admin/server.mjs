// An Express application whose /admin routes are guarded by Tessera's admin sessions.
//
//   TESSERA_URL=http://127.0.0.1:3000 TESSERA_API_KEY=tsk_... node examples/express-admin/server.mjs
//
// The API key needs the sessions:read scope. Sessions are checked in this process's memory;
// a session revoked in Tessera is refused here as soon as Tessera's event stream says so.
import express from 'express';
import { createSessionVerifier } from 'tessera/verify';

const url = process.env.TESSERA_URL;
const apiKey = process.env.TESSERA_API_KEY;
if (url === undefined || apiKey === undefined) {
  console.error('Set TESSERA_URL and TESSERA_API_KEY (an API key with the sessions:read scope).');
  process.exit(2);
}

const tessera = createSessionVerifier({
  url,
  apiKey,
  onError: (error) => console.error(`tessera: ${error.message}`),
});

const app = express();
app.get('/', (_request, response) => {
  response.json({ page: 'public' });
});

// Everything under /admin needs a live Tessera session: bearer header or tessera_session cookie.
app.use('/admin', tessera.express());
app.get('/admin/whoami', (request, response) => {
  response.json({ jti: request.tesseraSession.jti, expires: request.tesseraSession.exp });
});

await tessera.ready;
const server = app.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`express-admin listening on http://127.0.0.1:${port}`);
});

const stop = () => {
  tessera.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
