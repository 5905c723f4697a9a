import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IgnoreMatcher, readIgnoreFile } from './dockerignore.js';

// Docker's documented examples (dockerfile reference, ".dockerignore file") and patternmatcher's tests.
const cases: [string, string, boolean][] = [
  ['*/temp*', 'somedir/temporary.txt', true],
  ['*/temp*', 'somedir/temp', true],
  ['*/temp*', 'temp', false],
  ['*/*/temp*', 'somedir/subdir/temporary.txt', true],
  ['*/*/temp*', 'somedir/temporary.txt', false],
  ['temp?', 'tempa', true],
  ['temp?', 'tempab', false],
  ['**/*.go', 'a/b/c.go', true],
  ['**/*.go', 'c.go', true],
  ['*.md\n!README.md', 'README.md', false],
  ['*.md\n!README.md', 'CHANGES.md', true],
  ['*.md\n!README*.md\nREADME-secret.md', 'README-secret.md', true],
  ['*.md\nREADME-secret.md\n!README*.md', 'README-secret.md', false],
  ['/dir', 'dir/file', true],
  ['dir/', 'dir/sub/file', true],
  ['./dir//x/../y', 'dir/y', true],
  ['dir', 'other/dir', false],
  ['docs/**', 'docs/a/b', true],
  ['docs/**', 'docs', false],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b/z', true],
  ['[a-c]x', 'bx', true],
  ['[!a-c]x', 'bx', false],
  ['# comment\n  \n node_modules ', 'node_modules/x/y', true],
  ['*\n!keep', 'keep', false],
  ['*\n!keep', 'keep/inside', false],
  ['*\n!keep', 'other', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'axb', false],
];
for (const [file, path, want] of cases)
  test(`${JSON.stringify(file)} ${want ? 'excludes' : 'keeps'} ${path}`, () => {
    assert.equal(new IgnoreMatcher(readIgnoreFile(file)).excludes(path), want);
  });

test('a lone "!" is an error', () => {
  assert.throws(() => new IgnoreMatcher(readIgnoreFile('!')), /illegal exclusion/);
});
