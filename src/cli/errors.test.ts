import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failureReport, isUnexpected, UsageError } from './errors.js';

test('a usage error exits 2, a failure 1, each as one line', () => {
  assert.deepEqual(failureReport(new UsageError('--jobs takes 1 to 64'), '--jobs takes 1 to 64', false), {
    text: 'kura: error: --jobs takes 1 to 64\n',
    exitCode: 2,
  });
  const failure = new Error('401 from r.example: run "kura login r.example" first\nmore');
  assert.deepEqual(failureReport(failure, failure.message, false), {
    text: 'kura: error: 401 from r.example: run "kura login r.example" first\n',
    exitCode: 1,
  });
});

test('a bug says so, and with --debug prints its stack and asks for a report', () => {
  const bug = new TypeError("Cannot read properties of undefined (reading 'digest')");
  assert.ok(isUnexpected(bug));
  const plain = failureReport(bug, bug.message, false);
  const hint = ' (a bug in kura: run again with --debug and report the stack)\n';
  assert.ok(plain.text.startsWith('kura: error: Cannot read') && plain.text.endsWith(hint), plain.text);
  const debug = failureReport(bug, bug.message, true);
  assert.equal(debug.exitCode, 1);
  const lines = debug.text.split('\n');
  assert.equal(lines[0], `kura: error: ${bug.message}`);
  assert.match(lines[1]!, /^TypeError: Cannot read/);
  assert.match(lines[2]!, /^\s+at /);
  assert.match(debug.text, /This is a bug in kura: please report it/);
});

test('errors Kura expects are not bugs: typed, plain, and Node.js errors with a code', () => {
  assert.equal(isUnexpected(new UsageError('x')), false);
  assert.equal(isUnexpected(new Error('x')), false);
  assert.equal(isUnexpected(Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' })), false);
  assert.equal(isUnexpected(Object.assign(new Error('x'), { code: 'ERR_ASSERTION' })), true);
  assert.equal(isUnexpected('a string'), true);
});
