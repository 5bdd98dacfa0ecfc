// @ts-check
// The tables `npm run bench` prints (Markdown, pasted into the README as they are), each
// target marked met or MISSED.
import { machineLine } from './machine.mjs';
import { DB_PER_CHECK_CASE } from './routes.mjs';

export const SCALE_P99_MS = 20;
export const SCALE_RSS_MB = 256;
export const COLD_START_P50_MS = 300;
export const MEMORY_PER_100K_MB = 25;
export const PROPAGATION_P99_MS = 50;

/** @param {boolean} met */
const mark = (met) => (met ? 'met' : 'MISSED');

/** @param {any} results */
export function formatReport(results) {
  const lines = [`machine: ${machineLine(results.machine)}; ${results.seconds} s per measurement`];
  // A run without the routes part (`--parts cold`, say) prints no empty table.
  if (results.routes.length > 0)
    lines.push(
      '',
      // CPU per request is the answering process's own (not wrk's, nor the database's).
      '| backend | case | req/s | p50 ms | p99 ms | x bare node:http | x /healthz | target (x bare) | CPU us/req | x bare by CPU |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    );
  for (const row of results.routes) {
    const target = row.target === null ? '' : `>= ${row.target} ${mark(row.vsBare >= row.target)}`;
    lines.push(
      `| ${row.backend} | ${row.case} | ${row.rps} | ${row.p50} | ${row.p99} | ${row.vsBare} | ${row.vsHealthz} | ${target} | ${row.cpuUs} | ${row.cpuVsBare} |`,
    );
  }
  const comparison = dbPerCheckComparison(results.routes);
  if (comparison !== null) {
    lines.push(
      '',
      `postgres session check, bearer: Tessera ${comparison.tessera} x bare node:http, db-per-check ${comparison.dbPerCheck} x bare; Tessera answers ${comparison.ratio} x as many checks per second`,
    );
  }
  if (results.propagation.length > 0)
    lines.push(
      '',
      '| propagation (2 instances) | revoke one p50 / p99 ms | revoke all p50 / p99 ms | target p99 |',
      '| --- | --- | --- | --- |',
    );
  for (const p of results.propagation) {
    const worst = Math.max(p.revokeOne.p99, p.revokeAll.p99);
    lines.push(
      `| ${p.backend} | ${p.revokeOne.p50} / ${p.revokeOne.p99} | ${p.revokeAll.p50} / ${p.revokeAll.p99} | <= ${PROPAGATION_P99_MS} ${mark(worst <= PROPAGATION_P99_MS)} |`,
    );
  }
  if ((results.verifier ?? []).length > 0)
    lines.push(
      '',
      '| tessera/verify | revocation seen in another process p50 / p99 ms | target p99 | verify() known token /s (1 core) | target | GET /api/admin/session loopback /s |',
      '| --- | --- | --- | ---: | --- | ---: |',
    );
  for (const v of results.verifier ?? []) {
    const perSecond = v.verifyPerSecond ?? Number.NaN;
    lines.push(
      `| ${v.backend} | ${v.revocation.p50} / ${v.revocation.p99} | <= ${PROPAGATION_P99_MS} ${mark(v.revocation.p99 <= PROPAGATION_P99_MS)} | ${perSecond.toLocaleString('en')} | >= 1,000,000 ${mark(perSecond >= 1_000_000)} | ${(v.networkCheckRps ?? Number.NaN).toLocaleString('en')} |`,
    );
  }
  if (results.scale.length > 0) {
    const names = results.scale[0].queries.map((/** @type {{ name: string }} */ q) => q.name);
    lines.push(
      '',
      `| ${results.scale[0].rows} tokens, p50 / p99 ms | ${names.join(' | ')} | server RSS MiB | bulk load s |`,
      `| --- | ${names.map(() => '---').join(' | ')} | --- | ---: |`,
    );
    for (const s of results.scale) {
      const cells = s.queries.map(
        (/** @type {{ p50: number, p99: number }} */ q) =>
          `${q.p50} / ${q.p99} ${mark(q.p99 <= SCALE_P99_MS)}`,
      );
      lines.push(
        `| ${s.backend} | ${cells.join(' | ')} | ${s.rssMb} ${mark(s.rssMb <= SCALE_RSS_MB)} | ${s.loadSeconds} |`,
      );
    }
    lines.push(`targets: p99 <= ${SCALE_P99_MS} ms each, server RSS <= ${SCALE_RSS_MB} MB`);
  }
  lines.push('');
  if (results.memory !== null) {
    const m = results.memory;
    lines.push(
      `memory: ${m.sessions} sessions checked once (${m.tokenLength}-character tokens): held after a full GC (heap in use + external) ${m.heldBeforeMb.toFixed(1)} -> ${m.heldAfterMb.toFixed(1)} MiB, ${m.per100kMb} MiB per 100,000 sessions (target <= ${MEMORY_PER_100K_MB}) ${mark(m.per100kMb <= MEMORY_PER_100K_MB)}; RSS ${m.rssBeforeMb} -> ${m.rssAfterMb} MiB without a GC (${m.rssPer100kMb} per 100,000)`,
    );
  }
  if (results.coldStart !== null) {
    const c = results.coldStart;
    lines.push(
      `cold start to first answer (embedded): p50 ${c.p50} ms, max ${c.max} ms (target p50 <= ${COLD_START_P50_MS}) ${mark(c.p50 <= COLD_START_P50_MS)}; bare node:http p50 ${c.bareP50} ms` +
        (c.withCertificatesP50 == null
          ? ''
          : `; with the shell's NODE_EXTRA_CA_CERTS (not inherited by the servers above) p50 ${c.withCertificatesP50} ms`),
    );
  }
  return lines.join('\n');
}

/**
 * Tessera's bearer check against the db-per-check one on Postgres, each as a ratio to bare
 * node:http (so the comparison carries the drift cancelling of the pairs).
 * @param {Array<{ backend: string, case: string, vsBare: number }>} routes
 */
export function dbPerCheckComparison(routes) {
  const find = (/** @type {string} */ name) =>
    routes.find((row) => row.backend === 'postgres' && row.case === name);
  const tessera = find('session check, bearer');
  const dbPerCheck = find(DB_PER_CHECK_CASE);
  if (tessera === undefined || dbPerCheck === undefined) return null;
  return {
    tessera: tessera.vsBare,
    dbPerCheck: dbPerCheck.vsBare,
    ratio: Math.round((tessera.vsBare / dbPerCheck.vsBare) * 10) / 10,
  };
}
