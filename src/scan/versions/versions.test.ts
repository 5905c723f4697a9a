// Orderings that have no tool on this machine (apk, Maven), and the ecosystem entry point.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareVersions, InvalidVersionError, schemeOf } from './index.js';

const sign = (n: number) => (n < 0 ? '<' : n > 0 ? '>' : '=');

function check(ecosystem: string, cases: string[]): void {
  for (const c of cases) {
    const [a, op, b] = c.split(' ');
    assert.equal(sign(compareVersions(ecosystem, a!, b!)), op, `${ecosystem}: ${c}`);
    // Antisymmetry: the reverse pair gives the reverse answer.
    const rev = op === '<' ? '>' : op === '>' ? '<' : '=';
    assert.equal(sign(compareVersions(ecosystem, b!, a!)), rev, `${ecosystem}: ${b} ${rev} ${a}`);
  }
}

test('apk: suffixes, letters, revisions and leading zeros as apk-tools orders them', () => {
  check('Alpine:v3.19', [
    '1.1 > 1.1_alpha1',
    '1.1_alpha1 < 1.1_beta',
    '1.1_rc1 < 1.1',
    '1.1 < 1.1_p1',
    '1.1_p1 < 1.1_p2',
    '1.0_p10-r0 > 1.0_p9-r0',
    '1.0.4-r3 < 1.0.4-r4',
    '1.2.1 > 1.2',
    '1.2 < 1.2a',
    '1.2a < 1.2b',
    '2.12r-r4 < 2.12r-r5',
    '1.3-r0 < 1.3.1-r0',
    '1.01 < 1.1',
    '3.0.8-r0 < 3.0.12-r0',
    '1.36.1-r15 = 1.36.1-r15',
    'v1.2 = 1.2',
    '0.1.0_alpha_pre2 < 0.1.0_alpha',
  ]);
});

test('Maven: ComparableVersion qualifiers, padding and separators', () => {
  check('Maven', [
    '1 = 1.0',
    '1 = 1.0.0',
    '1.0 < 1.1',
    '1-alpha < 1',
    '1-alpha-1 < 1-alpha-2',
    '1-alpha < 1-beta',
    '1-beta < 1-milestone',
    '1-milestone < 1-rc',
    '1-rc = 1-cr',
    '1-rc < 1-snapshot',
    '1-snapshot < 1',
    '1 = 1-ga',
    '1 = 1-final',
    '1 < 1-sp',
    '1-sp < 1-foo',
    '1-foo < 1.1',
    '1a1 = 1-alpha-1',
    '1.0.0.RELEASE = 1',
    '2.17.0 > 2.9.1',
    '2.13.4.2 > 2.13.4',
    '1.0-SNAPSHOT < 1.0',
    '9.4.51.v20230217 > 9.4.50.v20221201',
  ]);
});

test('compareVersions picks the scheme by ecosystem and names versions it cannot read', () => {
  assert.equal(schemeOf('Debian:12'), 'dpkg');
  assert.equal(schemeOf('Ubuntu:22.04:LTS'), 'dpkg');
  assert.equal(schemeOf('Alpine:v3.19'), 'apk');
  assert.equal(schemeOf('Rocky Linux:9'), 'rpm');
  assert.equal(schemeOf('PyPI'), 'pep440');
  assert.equal(schemeOf('crates.io'), undefined);
  assert.equal(compareVersions('Debian:12', '1:1.0', '2.0'), 1);
  assert.equal(compareVersions('Red Hat:9', '1.0^git1', '1.0'), 1);
  assert.throws(
    () => compareVersions('npm', '1.0.0', 'not-a-version'),
    (e: unknown) => {
      assert.ok(e instanceof InvalidVersionError);
      assert.equal(e.version, 'not-a-version');
      return true;
    },
  );
  assert.throws(() => compareVersions('PyPI', 'foo', '1.0'), InvalidVersionError);
  assert.throws(() => compareVersions('Debian:12', '1.0-', '1.0'), InvalidVersionError);
  assert.throws(() => compareVersions('crates.io', '1.0.0', '1.0.1'), InvalidVersionError);
});
