// Paging shared by every metadata store: the bytewise order and the page-size check.
import type { Page } from './types.js';

/**
 * Orders strings by their UTF-8 bytes, as SQLite's BINARY collation does. Plain `<` compares UTF-16
 * code units, which puts astral characters (surrogate pairs) before U+E000..U+FFFF; UTF-8 puts them after.
 */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Validates a page size; a negative n would mean "unlimited" to SQLite but "drop the tail" to slice. */
export function checkPage(page: Page): void {
  if (page.n !== undefined && !(Number.isInteger(page.n) && page.n >= 0)) {
    throw new RangeError(`page size must be a non-negative integer, got ${page.n}`);
  }
}
