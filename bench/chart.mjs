// @ts-check
// A small SVG bar chart of each case's throughput as a ratio to bare node:http, with its target.
import { ANCHOR_CASE } from './routes.mjs';

/** @param {Array<{ backend: string, case: string, vsBare: number, target: number | null }>} rows */
export function renderChart(rows) {
  const shown = rows.filter((row) => row.case !== ANCHOR_CASE);
  const barHeight = 16;
  const gap = 6;
  const left = 290;
  const width = 760;
  const scaleWidth = width - left - 60;
  const maxRatio = Math.max(1.1, ...shown.map((row) => row.vsBare));
  const x = (/** @type {number} */ ratio) => left + (ratio / maxRatio) * scaleWidth;
  const height = 40 + shown.length * (barHeight + gap);
  const colour = { sqlite: '#4c78a8', postgres: '#f58518', redis: '#e45756' };
  const escapeXml = (/** @type {string} */ text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    '<title>Tessera: throughput of each route as a ratio to a bare node:http server in the same run</title>',
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="14">throughput as a ratio to bare node:http answering /healthz (tick: target)</text>`,
    `<line x1="${x(1)}" y1="20" x2="${x(1)}" y2="${height - 4}" stroke="#999" stroke-dasharray="3,3"/>`,
    `<text x="${x(1) - 3}" y="30" fill="#666" text-anchor="end">1.0 = bare node:http</text>`,
  ];
  shown.forEach((row, index) => {
    const y = 36 + index * (barHeight + gap);
    const fill = colour[/** @type {'sqlite'|'postgres'|'redis'} */ (row.backend)] ?? '#888';
    parts.push(
      `<text x="${left - 6}" y="${y + 12}" text-anchor="end">${escapeXml(`${row.backend}: ${row.case}`)}</text>`,
    );
    parts.push(
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(row.vsBare) - left)}" height="${barHeight}" fill="${fill}"/>`,
    );
    parts.push(`<text x="${x(row.vsBare) + 4}" y="${y + 12}">${row.vsBare}</text>`);
    if (row.target !== null) {
      parts.push(
        `<line x1="${x(row.target)}" y1="${y - 2}" x2="${x(row.target)}" y2="${y + barHeight + 2}" stroke="black" stroke-width="2"/>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
