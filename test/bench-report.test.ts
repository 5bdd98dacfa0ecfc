import { describe, expect, it } from 'vitest';
import { formatReport } from '../bench/report.mjs';

/*
 * The bench's printed report (pure formatting over a results object, as bench/run.mjs writes
 * it): the smoke run in bench-smoke.e2e.test.ts checks what is measured; this checks what is
 * printed for a run of only some parts.
 */

const machine = {
  cores: 2,
  cpu: 'AMD EPYC',
  memoryGiB: 24,
  node: 'v20.20.2',
  postgres: '15.20',
  redis: '7.0.15',
  wrk: '4.1.0',
  loadTool: 'wrk',
};
const coldStart = { p50: 287, max: 338, trials: 7, bareP50: 96, withCertificatesP50: 336 };
const onlyCold = {
  machine,
  seconds: 3,
  routes: [],
  propagation: [],
  verifier: [],
  scale: [],
  memory: null,
  coldStart,
};
const ROUTE_HEADER = '| backend | case | req/s |';

describe('the bench report', () => {
  it('a run of the cold start alone prints no empty route table, and the cold start with its anchor', () => {
    const report: string = formatReport(onlyCold);
    expect(report).not.toContain(ROUTE_HEADER);
    expect(report).toContain(
      "cold start to first answer (embedded): p50 287 ms, max 338 ms (target p50 <= 300) met; bare node:http p50 96 ms; with the shell's NODE_EXTRA_CA_CERTS (not inherited by the servers above) p50 336 ms",
    );
  });

  it('without the certificates measured, the cold start line ends at the bare server', () => {
    const report: string = formatReport({
      ...onlyCold,
      coldStart: { ...coldStart, p50: 340, withCertificatesP50: null },
    });
    expect(report).toMatch(/p50 340 ms, max 338 ms \(target p50 <= 300\) MISSED; bare node:http p50 96 ms$/m);
  });

  it('a run with routes prints their table, each target marked', () => {
    const row = {
      backend: 'sqlite',
      case: 'GET /healthz',
      rps: 31707,
      p50: 0.918,
      p99: 3.563,
      vsBare: 0.83,
      vsHealthz: 1,
      cpuUs: 31.2,
      cpuVsBare: 0.83,
      target: 0.85,
    };
    const report: string = formatReport({ ...onlyCold, routes: [row] });
    expect(report).toContain(ROUTE_HEADER);
    expect(report).toContain(
      '| sqlite | GET /healthz | 31707 | 0.918 | 3.563 | 0.83 | 1 | >= 0.85 MISSED | 31.2 | 0.83 |',
    );
  });
});
