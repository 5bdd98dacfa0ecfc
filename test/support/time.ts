/**
 * 2026-03-26T08:00:00Z, the contract's morning. Every time in the tests is derived from it
 * (frozen clocks start there), never from the wall clock.
 */
export const T0 = Date.UTC(2026, 2, 26, 8, 0, 0);

/** T0 in whole seconds, as JWT `iat` / `exp` claims count. */
export const T0_SECONDS = T0 / 1000;
