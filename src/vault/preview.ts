/** Tokens shorter than this show only their tail, so a preview never spells out most of one. */
const SHORT_TOKEN = 16;
const SURROGATE = /[\uD800-\uDFFF]/;
/**
 * What a preview does not show as itself: control characters (C0, C1, DEL), format characters
 * (bidi overrides and isolates, zero-width characters, the BOM, soft hyphen, tags) and the line
 * and paragraph separators.
 */
const UNSHOWN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * The masked form listings show instead of a token: the first 8 characters, `...` and the
 * last 4 (`eyJhbGci...Q3Yk`); a token shorter than 16 characters shows `...` and its last 2.
 * Characters are code points, so a preview never splits a surrogate pair. A control or format
 * character shows as U+FFFD: a preview is for display (a terminal would act on an escape
 * sequence, a page or a terminal would reorder the text after a bidi override), and a NUL
 * cannot be stored as text in Postgres. The token itself keeps them.
 */
export function tokenPreview(token: string): string {
  // With nothing to replace, replace() gives the same string back: one scan, no copy.
  return maskedForm(token).replace(UNSHOWN, '\uFFFD');
}

function maskedForm(token: string): string {
  // Without surrogates every UTF-16 unit is a code point: the string is sliced as it is, not
  // split into an array of one string per character (1.5 us for a 250-character token).
  if (!SURROGATE.test(token)) {
    return token.length < SHORT_TOKEN ? `...${token.slice(-2)}` : `${token.slice(0, 8)}...${token.slice(-4)}`;
  }
  const chars = Array.from(token);
  if (chars.length < SHORT_TOKEN) return `...${chars.slice(-2).join('')}`;
  return `${chars.slice(0, 8).join('')}...${chars.slice(-4).join('')}`;
}
