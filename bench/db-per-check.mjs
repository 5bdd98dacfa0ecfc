// @ts-check
// The design users would build instead of Tessera, measured beside it: a session check that
// reads the database on every request, as the contract's reference design does. Same
// framework (Fastify, logging requests at info as Tessera does by default), same HS256 JWT
// verified by Tessera's own code (so both pay the same crypto), then two Postgres queries per
// check: the session row by jti and the global token version. To give it its best showing the
// two run in parallel on a pool of 10 (Tessera's default), as prepared statements.
//
// Run by `npm run bench` as its own process: PORT, DATABASE_URL, AUTH_SECRET and
// DB_PER_CHECK_SCHEMA (a bench-only schema it creates at start and drops on SIGTERM).
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';
import { createSessionSigner } from '#dist/admin/jwt.js';

const schemaName = String(process.env.DB_PER_CHECK_SCHEMA);
if (!/^bench_[a-z0-9_]+$/.test(schemaName)) throw new Error('DB_PER_CHECK_SCHEMA must be a bench_ schema');
const s = `"${schemaName}"`;
const signer = createSessionSigner([
  { kid: null, secret: Buffer.from(String(process.env.AUTH_SECRET), 'utf8') },
]);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i;

await pool.query(`
  CREATE SCHEMA ${s};
  CREATE TABLE ${s}.sessions (
    jti text PRIMARY KEY, iat bigint NOT NULL, exp bigint NOT NULL, v bigint NOT NULL, revoked_at_ms bigint);
  CREATE TABLE ${s}.counters (name text PRIMARY KEY, value bigint NOT NULL);
  INSERT INTO ${s}.counters (name, value) VALUES ('token_version', 1);`);

const findSession = {
  name: 'find-session',
  text: `SELECT exp, v, revoked_at_ms FROM ${s}.sessions WHERE jti = $1`,
};
const readVersion = {
  name: 'read-version',
  text: `SELECT value FROM ${s}.counters WHERE name = 'token_version'`,
};

const app = Fastify({ logger: { level: 'info' } });
const nowSeconds = () => Math.floor(Date.now() / 1000);

app.get('/healthz', async () => ({ status: 'ok' }));

/** Issues a session the way Tessera does: a row under the current version, and a signed token. */
app.post('/api/admin/login', async () => {
  const { rows } = await pool.query(readVersion);
  const iat = nowSeconds();
  const claims = {
    jti: randomBytes(18).toString('base64url'),
    iat,
    exp: iat + 86_400,
    v: Number(rows[0].value),
  };
  await pool.query(`INSERT INTO ${s}.sessions (jti, iat, exp, v) VALUES ($1, $2, $3, $4)`, [
    claims.jti,
    claims.iat,
    claims.exp,
    claims.v,
  ]);
  return { success: true, token: signer.sign(claims), jti: claims.jti };
});

const claimsSchema = {
  type: 'object',
  properties: {
    jti: { type: 'string' },
    iat: { type: 'integer' },
    exp: { type: 'integer' },
    v: { type: 'integer' },
  },
};
app.get(
  '/api/admin/session',
  {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            success: { type: 'boolean' },
            authenticated: { type: 'boolean' },
            via: { type: 'string' },
            session: claimsSchema,
            expiresIn: { type: 'integer' },
          },
        },
        401: { type: 'object', properties: { error: { type: 'string' } } },
      },
    },
  },
  async (request, reply) => {
    const now = nowSeconds();
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    const claims = token === undefined ? null : signer.verify(token, now);
    if (claims === null) return reply.code(401).send({ error: 'Unauthorized' });
    const [session, version] = await Promise.all([
      pool.query({ ...findSession, values: [claims.jti] }),
      pool.query(readVersion),
    ]);
    const row = session.rows[0];
    const active =
      row !== undefined &&
      row.revoked_at_ms === null &&
      Number(row.exp) === claims.exp &&
      Number(row.exp) > now &&
      Number(row.v) === claims.v &&
      Number(version.rows[0].value) === claims.v;
    if (!active) return reply.code(401).send({ error: 'Unauthorized' });
    return {
      success: true,
      authenticated: true,
      via: 'bearer',
      session: claims,
      expiresIn: claims.exp - now,
    };
  },
);

process.once('SIGTERM', async () => {
  await app.close();
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await pool.end();
  process.exit(0);
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
