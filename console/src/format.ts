import { formatDuration } from './api.js';

/** "in 23 h 59 min", "5 min ago", "now". */
export function relativeTime(atMs: number, nowMs: number): string {
  const seconds = Math.round((atMs - nowMs) / 1000);
  if (Math.abs(seconds) < 5) return 'now';
  return seconds > 0 ? `in ${formatDuration(seconds)}` : `${formatDuration(-seconds)} ago`;
}

/** A timestamp for a tooltip and `<time datetime>`: local, to the second. */
export const absoluteTime = (atMs: number) => new Date(atMs).toLocaleString();

/** The first characters of an id: enough to tell rows apart, short enough for a phone. */
export const shortId = (id: string, length = 10) => (id.length > length ? `${id.slice(0, length)}…` : id);

const BROWSERS: [RegExp, string][] = [
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/HeadlessChrome\/(\d+)/, 'Headless Chrome'],
  [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[.\d]* .*Safari\//, 'Safari'],
  [/curl\/([\d.]+)/, 'curl'],
  [/^node$|undici/, 'Node.js'],
];

const SYSTEMS: [RegExp, string][] = [
  [/Windows NT/, 'Windows'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** "Chrome 131 on Linux" from a user agent; the raw text (shortened) when nothing matches. */
export function describeUserAgent(userAgent: string | null): string {
  if (userAgent === null || userAgent === '') return 'unknown';
  let browser: string | null = null;
  for (const [pattern, name] of BROWSERS) {
    const match = pattern.exec(userAgent);
    if (match !== null) {
      browser = match[1] === undefined ? name : `${name} ${match[1]}`;
      break;
    }
  }
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1] ?? null;
  if (browser === null) return userAgent.length > 40 ? `${userAgent.slice(0, 40)}…` : userAgent;
  return system === null ? browser : `${browser} on ${system}`;
}
