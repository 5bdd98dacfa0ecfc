// Preloaded into the server by the memory case (`node --expose-gc --require bench/gc-report.cjs`):
// on SIGUSR2 it runs a full garbage collection and writes the process's memory, in MiB, as one
// JSON line to the file named by TESSERA_BENCH_GC_REPORT. What is left after a full collection
// is what the process holds; RSS read without one also counts garbage not yet collected and
// the young generation the load grew.
const { appendFileSync } = require('node:fs');

const file = process.env.TESSERA_BENCH_GC_REPORT;
const mib = (/** @type {number} */ bytes) => Math.round(bytes / 104857.6) / 10;
const collect = global.gc;
if (file !== undefined && collect !== undefined) {
  process.on('SIGUSR2', () => {
    collect();
    collect();
    const m = process.memoryUsage();
    const line = { rssMb: mib(m.rss), heapUsedMb: mib(m.heapUsed), externalMb: mib(m.external) };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
