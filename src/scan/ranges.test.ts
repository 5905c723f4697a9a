// OSV range evaluation, on the shapes of the OSV schema's own examples and on records shaped like real ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOsv, type OsvAffected } from './osv.js';
import { isAffected } from './ranges.js';

const entry = (ecosystem: string, events: object[], extra: Partial<OsvAffected> = {}): OsvAffected => ({
  package: { ecosystem, name: 'p' },
  ranges: [{ type: 'ECOSYSTEM', events: events as NonNullable<OsvAffected['ranges']>[number]['events'] }],
  ...extra,
});

function verdicts(a: OsvAffected, versions: string[]): Record<string, boolean> {
  return Object.fromEntries(versions.map((v) => [v, isAffected(a, v).affected]));
}

test('introduced/fixed pairs: two vulnerable stretches and the gap between them', () => {
  // The schema's example: introduced 1.0.0, fixed 1.0.2, introduced 1.1.0, fixed 1.1.2 (events in any order).
  const a = entry('npm', [{ fixed: '1.1.2' }, { introduced: '1.0.0' }, { introduced: '1.1.0' }, { fixed: '1.0.2' }]);
  assert.deepEqual(verdicts(a, ['0.9.0', '1.0.0', '1.0.1', '1.0.2', '1.0.9', '1.1.0', '1.1.1', '1.1.2', '2.0.0']), {
    '0.9.0': false,
    '1.0.0': true,
    '1.0.1': true,
    '1.0.2': false,
    '1.0.9': false,
    '1.1.0': true,
    '1.1.1': true,
    '1.1.2': false,
    '2.0.0': false,
  });
  assert.deepEqual(isAffected(a, '1.0.1').fixed, ['1.0.2']);
  assert.deepEqual(isAffected(a, '1.1.0').fixed, ['1.1.2']);
});

test('introduced "0" is below everything; no fixed means every later version, unfixed', () => {
  const a = entry('npm', [{ introduced: '0' }]);
  assert.deepEqual(verdicts(a, ['0.0.1', '99.0.0', '1.0.0-alpha']), {
    '0.0.1': true,
    '99.0.0': true,
    '1.0.0-alpha': true,
  });
  assert.deepEqual(isAffected(a, '1.0.0').fixed, []);
  // Prereleases are ordered, not skipped (the trap node-semver ranges set for scanners).
  const b = entry('npm', [{ introduced: '0' }, { fixed: '2.0.0' }]);
  assert.deepEqual(verdicts(b, ['2.0.0-rc.1', '2.0.0', '1.9.9']), {
    '2.0.0-rc.1': true,
    '2.0.0': false,
    '1.9.9': true,
  });
});

test('last_affected includes its version; limit caps the range', () => {
  const a = entry('PyPI', [{ introduced: '1.0' }, { last_affected: '1.4' }]);
  assert.deepEqual(verdicts(a, ['0.9', '1.0', '1.4', '1.4.post1', '1.5']), {
    '0.9': false,
    '1.0': true,
    '1.4': true,
    '1.4.post1': false,
    '1.5': false,
  });
  const b = entry('npm', [{ introduced: '0' }, { limit: '2.0.0' }]);
  assert.deepEqual(verdicts(b, ['1.0.0', '2.0.0', '3.0.0']), { '1.0.0': true, '2.0.0': false, '3.0.0': false });
  const c = entry('npm', [{ introduced: '1.0.0' }, { limit: '*' }]);
  assert.deepEqual(verdicts(c, ['0.1.0', '5.0.0']), { '0.1.0': false, '5.0.0': true });
});

test('versions lists, SEMVER ranges, GIT ranges ignored, epochs in distro ranges', () => {
  const listed = entry('PyPI', [], { ranges: [], versions: ['1.0', '1.1'] });
  assert.deepEqual(verdicts(listed, ['1.0', '1.0.0', '1.2']), { '1.0': true, '1.0.0': true, '1.2': false });
  const semverGo: OsvAffected = {
    package: { ecosystem: 'Go', name: 'golang.org/x/net' },
    ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '0.17.0' }] }],
  };
  assert.deepEqual(verdicts(semverGo, ['v0.16.0', 'v0.17.0', 'v0.0.0-20230101000000-abcdefabcdef']), {
    'v0.16.0': true,
    'v0.17.0': false,
    'v0.0.0-20230101000000-abcdefabcdef': true,
  });
  const git: OsvAffected = {
    package: { ecosystem: 'npm', name: 'p' },
    ranges: [{ type: 'GIT', repo: 'https://example.com/r', events: [{ introduced: '0' }, { fixed: 'abc123' }] }],
  };
  assert.equal(isAffected(git, '1.0.0').affected, false);
  // Debian: the epoch wins over the upstream version (1:1.0 is newer than 2.0).
  const deb = entry('Debian:12', [{ introduced: '0' }, { fixed: '1:1.2-1' }]);
  assert.deepEqual(verdicts(deb, ['2.0-1', '1:1.1-3', '1:1.2-1', '1:1.2-1+deb12u1']), {
    '2.0-1': true,
    '1:1.1-3': true,
    '1:1.2-1': false,
    '1:1.2-1+deb12u1': false,
  });
});

test('an unreadable installed version is reported, not matched', () => {
  const a = entry('npm', [{ introduced: '0' }, { fixed: '1.0.0' }]);
  const bad: string[] = [];
  assert.equal(isAffected(a, 'not.a.version', (e) => bad.push(e.version)).affected, false);
  assert.deepEqual(bad, ['not.a.version']);
});

test('parseOsv accepts osv-schema records and names the field that is wrong', () => {
  const r = parseOsv(
    JSON.stringify({
      id: 'X-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'a' } }],
    }),
    'x.json',
  );
  assert.equal(r.id, 'X-1');
  assert.throws(() => parseOsv('{', 'x.json'), /x\.json: not JSON/);
  assert.throws(
    () =>
      parseOsv(
        JSON.stringify({ id: 'X-2', modified: 'm', affected: [{ ranges: [{ type: 'FOO', events: [] }] }] }),
        'y.json',
      ),
    /y\.json \(X-2\): not an OSV record: affected\.0\.ranges\.0\.type/,
  );
  assert.throws(
    () =>
      parseOsv(
        JSON.stringify({
          id: 'X-3',
          modified: 'm',
          affected: [{ ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1' }] }] }],
        }),
        'z.json',
      ),
    /z\.json \(X-3\): not an OSV record: affected\.0\.ranges\.0\.events\.0/,
  );
});
