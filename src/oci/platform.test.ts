import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OciError } from './errors.js';
import { formatPlatform, hostPlatform, isAttestationPlatform, parsePlatform, platformMatches } from './platform.js';

test('parsePlatform normalises what people type', () => {
  const table: [string, string][] = [
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64'],
    ['Linux/ARM64/v8', 'linux/arm64/v8'],
    ['linux/arm64/8', 'linux/arm64/v8'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['macos/arm64', 'darwin/arm64'],
    ['linux/i386', 'linux/386'],
  ];
  for (const [input, want] of table) assert.equal(formatPlatform(parsePlatform(input)), want, input);
  assert.equal(parsePlatform('windows/amd64:10.0.17763.1234')['os.version'], '10.0.17763.1234');
});

test('parsePlatform rejects malformed platforms with the form to use', () => {
  for (const bad of ['linux', 'linux/amd64/v8/x', 'linux//amd64', 'linux/am d64', '']) {
    assert.throws(
      () => parsePlatform(bad),
      (e: unknown) => e instanceof OciError && /os\/arch\[\/variant\]/.test(e.message),
      bad,
    );
  }
});

test('platformMatches: variants default, aliases fold, different variants differ', () => {
  const p = parsePlatform;
  const table: [string, string | undefined, boolean][] = [
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/aarch64', 'linux/arm64/v8', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm', 'linux/arm/v6', false],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/amd64', undefined, false],
  ];
  for (const [want, have, ok] of table)
    assert.equal(platformMatches(p(want), have === undefined ? undefined : p(have)), ok, `${want} vs ${have}`);
  assert.equal(platformMatches({ os: 'linux', architecture: 'x86_64' }, { os: 'linux', architecture: 'amd64' }), true);
  assert.equal(platformMatches(p('windows/amd64:10.0.1'), p('windows/amd64:10.0.2')), false);
  assert.equal(platformMatches(p('windows/amd64'), p('windows/amd64:10.0.2')), true);
});

test('attestation entries are recognised; the host platform is well-formed', () => {
  assert.equal(isAttestationPlatform({ os: 'unknown', architecture: 'unknown' }), true);
  assert.equal(isAttestationPlatform({ os: 'linux', architecture: 'unknown' }), false);
  assert.equal(isAttestationPlatform(undefined), false);
  const h = hostPlatform();
  assert.deepEqual(parsePlatform(formatPlatform(h)), h);
});
