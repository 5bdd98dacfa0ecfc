/** Tokens shorter than this show only their tail, so a preview never spells out most of one. */
const SHORT_TOKEN = 16;

/**
 * The masked form listings show instead of a token: the first 8 characters, `...` and the
 * last 4 (`eyJhbGci...Q3Yk`); a token shorter than 16 characters shows `...` and its last 2.
 * Characters are code points, so a preview never splits a surrogate pair.
 */
export function tokenPreview(token: string): string {
  const chars = Array.from(token);
  if (chars.length < SHORT_TOKEN) return `...${chars.slice(-2).join('')}`;
  return `${chars.slice(0, 8).join('')}...${chars.slice(-4).join('')}`;
}
