/**
 * README.ja.md keeps step with README.md: its set-up section has the same two commands and its tour every
 * command of the English tour, identical and in the same order (only prose and comments are translated).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './kura-process.js';

/** The `## ` sections of a markdown file, by position (the title is not one). */
function sections(md: string): { heading: string; body: string }[] {
  return md
    .split(/^## /m)
    .slice(1)
    .map((s) => ({ heading: s.slice(0, s.indexOf('\n')), body: s.slice(s.indexOf('\n') + 1) }));
}

/** The commands of the ```sh blocks of a section: comments dropped, continued lines joined. */
function shellCommands(body: string): string[] {
  const out: string[] = [];
  for (const block of body.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    let pending = '';
    for (const line of block[1]!.split('\n')) {
      const code = line.replace(/\s+#\s.*$/, '').trimEnd();
      if (code.trim() === '' || code.trimStart().startsWith('#')) continue;
      if (code.endsWith('\\')) {
        pending += code.slice(0, -1).trim() + ' ';
        continue;
      }
      out.push((pending + code.trim()).trim());
      pending = '';
    }
  }
  return out;
}

const en = sections(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
const ja = sections(readFileSync(join(REPO_ROOT, 'README.ja.md'), 'utf8'));

test('the two READMEs open with the set-up and the tour', () => {
  assert.match(en[0]!.heading, /^Set-up/);
  assert.match(en[1]!.heading, /^Tour/);
  assert.match(ja[0]!.heading, /^セットアップ/);
  assert.match(ja[1]!.heading, /^ツアー/);
});

test('the set-up: the same two commands', () => {
  const cmds = shellCommands(en[0]!.body);
  assert.equal(cmds.length, 2, `README.md set-up: ${cmds.join(' | ')}`);
  assert.deepEqual(shellCommands(ja[0]!.body), cmds);
});

test('the tour: every command of README.md, identical and in order, in README.ja.md', () => {
  const cmds = shellCommands(en[1]!.body);
  assert.ok(cmds.length > 20, `the tour has ${cmds.length} commands`);
  assert.deepEqual(shellCommands(ja[1]!.body), cmds);
});

test('the extraction sees a changed command (so the comparison can fail)', () => {
  const body = '```sh\nkura copy a b   # copy\nkura tags \\\n  x\n```\n';
  assert.deepEqual(shellCommands(body), ['kura copy a b', 'kura tags x']);
  assert.notDeepEqual(shellCommands(body.replace('copy a b', 'copy a c')), shellCommands(body));
});
