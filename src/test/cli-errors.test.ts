/** The CLI's exits end to end: usage errors exit 2, failures 1, each one line; --debug, KURA_DEBUG=1 add the stack. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runKura } from './helpers.js';

async function kura(args: string[], env: Record<string, string> = {}) {
  const r = await runKura(args, { env: { ...process.env, KURA_DEBUG: '', ...env } });
  return { status: r.code, stderr: r.stderr, stdout: r.stdout };
}

test("a bad flag value is a usage error: exit 2 and one line, as commander's own usage errors", async () => {
  const ours = await kura(['copy', '--jobs', '0', 'oci:/nowhere', 'oci:/nowhere2']);
  const line = 'kura: error: --jobs takes a number from 1 to 64, not "0"\n';
  assert.deepEqual(ours, { status: 2, stderr: line, stdout: '' });
  const commanders = await kura(['copy', '--bogus']);
  assert.equal(commanders.status, 2);
  assert.equal(commanders.stderr, 'kura: error: unknown option \'--bogus\'; run "kura copy --help" for usage\n');
  const wrongKind = await kura(['push', 'example/app@sha256:' + 'a'.repeat(64), '--store', '/nonexistent-kura-store']);
  assert.equal(wrongKind.status, 2, wrongKind.stderr);
  assert.match(wrongKind.stderr, /^kura: error: push takes a tag, not a digest/);
});

test('a failure exits 1 with one line', async () => {
  const r = await kura(['inspect', 'oci:/nonexistent-kura-layout:v1']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  assert.match(r.stderr, /^kura: error: /);
});

test('--debug (anywhere before --) and KURA_DEBUG=1 print the stack after the line', async () => {
  for (const [args, env] of [
    [['--debug', 'copy', '--jobs', '0', 'a', 'b'], {}],
    [['copy', '--jobs', '0', 'a', 'b', '--debug'], {}],
    [['copy', '--jobs', '0', 'a', 'b'], { KURA_DEBUG: '1' }],
  ] as const) {
    const r = await kura([...args], env);
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n');
    assert.equal(lines[0], 'kura: error: --jobs takes a number from 1 to 64, not "0"');
    assert.match(lines[1]!, /^UsageError: --jobs takes/);
    assert.match(lines[2]!, /^\s+at /);
  }
});
