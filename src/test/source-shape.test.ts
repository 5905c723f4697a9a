/** The shape rules of the source tree (docs/architecture.md, "Code style"): file and line lengths. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(
  (f) => f.endsWith('.ts') || f.endsWith('.tsx'),
);

/** A line that is one regular-expression literal: kept whole (prettier cannot break it either). */
const REGEX_LINE = /^\s*\/.+\/[dgimsuvy]*[,;]?$/;

/** Lines over `max` characters in `text`, as `file:line`. */
export function longLines(file: string, text: string, max = 120): string[] {
  return text
    .split('\n')
    .flatMap((line, i) => (line.length > max && !REGEX_LINE.test(line) ? [`${file}:${i + 1} (${line.length})`] : []));
}

test('no source file outside tests is over 400 lines', () => {
  const long = files
    .filter((f) => !f.endsWith('.test.ts'))
    .map((f) => ({ f, n: readFileSync(join(src, f), 'utf8').split('\n').length }))
    .filter(({ n }) => n > 400)
    .map(({ f, n }) => `${f} (${n})`);
  assert.deepEqual(long, []);
});

test('no line of the source is over 120 characters (generated files aside)', () => {
  const long = files.flatMap((f) => {
    const text = readFileSync(join(src, f), 'utf8');
    return text.startsWith('// Generated from') ? [] : longLines(relative(src, join(src, f)), text);
  });
  assert.deepEqual(long, []);
});

test('the line check reports a planted long line, and lets a lone regular expression be', () => {
  const regex = `  /^${'r'.repeat(130)}$/,`;
  assert.deepEqual(longLines('x.ts', `short\n${'y'.repeat(121)}\n${'z'.repeat(120)}\n${regex}`), ['x.ts:2 (121)']);
});
