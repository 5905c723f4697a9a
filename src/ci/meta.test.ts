/**
 * `computeMeta` against docker/metadata-action's documented examples: each row of the tables of its README
 * (https://github.com/docker/metadata-action/blob/master/README.md, sections Basic, Semver, Bake definition,
 * type=schedule, type=semver, type=pep440, type=match, type=ref, priority, global expressions, major version
 * zero). Where Kura departs on purpose (a prerelease tag is never `latest`), the test says so.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CiContext } from './context.js';
import { computeMeta, sanitizeTag, type MetaInputs } from './meta.js';
import { parseRule, RULE_PRIORITY } from './rules.js';

const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37';
const NOW = new Date('2020-01-10T00:30:00Z');

function ctx(eventName: string, ref: string, extra: Partial<CiContext> = {}): CiContext {
  return { provider: 'github', eventName, ref, sha: SHA, defaultBranch: 'master', repo: {}, ...extra };
}
const tags = (c: CiContext, i: MetaInputs) => computeMeta(c, { now: NOW, ...i }).tags;

// [event, ref] of the README's rows; "push tag" is a push of refs/tags/….
const PR: [string, string] = ['pull_request', 'refs/pull/2/merge'];
const MASTER: [string, string] = ['push', 'refs/heads/master'];
const RELEASES: [string, string] = ['push', 'refs/heads/releases/v1'];
const MY_BRANCH: [string, string] = ['push', 'refs/heads/my/branch'];
const V123: [string, string] = ['push', 'refs/tags/v1.2.3'];
const BETA: [string, string] = ['push', 'refs/tags/v2.0.8-beta.67'];
const DISPATCH: [string, string] = ['workflow_dispatch', 'refs/heads/master'];

describe('README "Basic" (default rules, images: name/app)', () => {
  const rows: [[string, string], string[]][] = [
    [PR, ['pr-2']],
    [MASTER, ['master']],
    [RELEASES, ['releases-v1']],
    [V123, ['v1.2.3', 'latest']],
    // README: `v2.0.8-beta.67, latest`. Kura's fix: a prerelease git tag never becomes latest.
    [BETA, ['v2.0.8-beta.67']],
    [DISPATCH, ['master']],
  ];
  for (const [[event, ref], want] of rows)
    test(`${event} ${ref} → ${want.join(', ')}`, () => {
      assert.deepEqual(
        tags(ctx(event, ref), { images: ['name/app'] }),
        want.map((t) => `name/app:${t}`),
      );
    });
});

describe('README "Semver"', () => {
  const rules = [
    'type=ref,event=branch',
    'type=ref,event=pr',
    'type=semver,pattern={{version}}',
    'type=semver,pattern={{major}}.{{minor}}',
  ];
  const rows: [[string, string], string[]][] = [
    [PR, ['pr-2']],
    [MASTER, ['master']],
    [RELEASES, ['releases-v1']],
    [V123, ['1.2.3', '1.2', 'latest']],
    [BETA, ['2.0.8-beta.67']],
  ];
  for (const [[event, ref], want] of rows)
    test(`${event} ${ref} → ${want.join(', ')}`, () => {
      assert.deepEqual(
        tags(ctx(event, ref), { images: ['name/app'], tags: rules }),
        want.map((t) => `name/app:${t}`),
      );
    });
});

test('README "Bake definition": tags and labels at refs/tags/v1.2.3', () => {
  const c = ctx(...V123, {
    repo: {
      title: 'Hello-World',
      description: 'This your first repo!',
      url: 'https://github.com/octocat/Hello-World',
      license: 'MIT',
    },
  });
  const m = computeMeta(c, {
    now: NOW,
    images: ['name/app'],
    tags: [
      'type=ref,event=branch',
      'type=ref,event=pr',
      'type=semver,pattern={{version}}',
      'type=semver,pattern={{major}}.{{minor}}',
      'type=sha',
    ],
  });
  assert.deepEqual(m.tags, ['name/app:1.2.3', 'name/app:1.2', 'name/app:sha-860c190', 'name/app:latest']);
  assert.equal(m.version, '1.2.3');
  assert.deepEqual(m.labels, {
    'org.opencontainers.image.created': '2020-01-10T00:30:00.000Z',
    'org.opencontainers.image.description': 'This your first repo!',
    'org.opencontainers.image.licenses': 'MIT',
    'org.opencontainers.image.revision': SHA,
    'org.opencontainers.image.source': 'https://github.com/octocat/Hello-World',
    'org.opencontainers.image.title': 'Hello-World',
    'org.opencontainers.image.url': 'https://github.com/octocat/Hello-World',
    'org.opencontainers.image.version': '1.2.3',
  });
  assert.equal(m.annotations[0], 'manifest:org.opencontainers.image.created=2020-01-10T00:30:00.000Z');
  assert.equal(m.annotations.length, 8);
});

describe('README "type=schedule" (on a schedule event)', () => {
  const rows: [string, string][] = [
    ['nightly', 'nightly'],
    ["{{date 'YYYYMMDD'}}", '20200110'],
    ["{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", '20200110-093000'],
  ];
  for (const [pattern, want] of rows)
    test(`${pattern} → ${want}`, () => {
      assert.deepEqual(tags(ctx('schedule', 'refs/heads/master'), { tags: [`type=schedule,pattern=${pattern}`] }), [
        want,
      ]);
    });
  test('type=schedule yields nothing on a push', () => {
    assert.deepEqual(tags(ctx(...MASTER), { tags: ['type=schedule'] }), []);
  });
});

describe('README "type=semver"', () => {
  const rows: [string, string, string][] = [
    ['v1.2.3', '{{raw}}', 'v1.2.3'],
    ['v1.2.3', '{{version}}', '1.2.3'],
    ['v1.2.3', '{{major}}.{{minor}}', '1.2'],
    ['v1.2.3', 'v{{major}}', 'v1'],
    ['v1.2.3', '{{minor}}', '2'],
    ['v1.2.3', '{{patch}}', '3'],
    ['v2.0.8-beta.67', '{{raw}}', 'v2.0.8-beta.67'],
    ['v2.0.8-beta.67', '{{version}}', '2.0.8-beta.67'],
    ['v2.0.8-beta.67', '{{major}}.{{minor}}', '2.0.8-beta.67'],
  ];
  for (const [tag, pattern, want] of rows)
    test(`${tag} ${pattern} → ${want}`, () => {
      const got = tags(ctx('push', `refs/tags/${tag}`), { tags: [`type=semver,pattern=${pattern}`] });
      // latest only for a release, never for a prerelease (as the action does for semver).
      assert.deepEqual(got, tag.includes('-') ? [want] : [want, 'latest']);
    });
  test('value= gives the version on a branch push', () => {
    assert.deepEqual(tags(ctx(...MASTER), { tags: ['type=semver,pattern={{version}},value=v1.0.0'] }), [
      '1.0.0',
      'latest',
    ]);
  });
  test('a tag that is not semver yields nothing and a warning', () => {
    const m = computeMeta(ctx('push', 'refs/tags/release-x'), { tags: ['type=semver,pattern={{version}}'] });
    assert.deepEqual(m.tags, []);
    assert.match(m.warnings[0]!, /release-x is not a semantic version/);
  });
});

describe('README "type=pep440"', () => {
  const rows: [string, string, string, boolean][] = [
    ['1.2.3', '{{raw}}', '1.2.3', true],
    ['1.2.3', '{{version}}', '1.2.3', true],
    ['v1.2.3', '{{version}}', '1.2.3', true],
    ['1.2.3', '{{major}}.{{minor}}', '1.2', true],
    ['1.2.3', 'v{{major}}', 'v1', true],
    ['v1.2.3rc2', '{{raw}}', 'v1.2.3rc2', false],
    ['1.2.3rc2', '{{version}}', '1.2.3rc2', false],
    ['1.2.3rc2', '{{major}}.{{minor}}', '1.2.3rc2', false],
    ['1.2.3post1', '{{major}}.{{minor}}', '1.2.3.post1', false],
    ['1.2.3beta2', '{{major}}.{{minor}}', '1.2.3b2', false],
    ['1.0dev4', '{{major}}.{{minor}}', '1.0.dev4', false],
  ];
  for (const [tag, pattern, want, latest] of rows)
    test(`${tag} ${pattern} → ${want}`, () => {
      const got = tags(ctx('push', `refs/tags/${tag}`), { tags: [`type=pep440,pattern=${pattern}`] });
      assert.deepEqual(got, latest ? [want, 'latest'] : [want]);
    });
});

describe('README "type=match"', () => {
  const rows: [string, string, string, string][] = [
    ['v1.2.3', '\\d.\\d.\\d', '0', '1.2.3'],
    ['v2.0.8-beta.67', 'v(.*)', '1', '2.0.8-beta.67'],
    ['v2.0.8-beta.67', 'v(\\d.\\d)', '1', '2.0'],
    ['20200110-RC2', '\\d+', '0', '20200110'],
    ['p1/v1.2.3', 'p1/v(\\d.\\d.\\d)', '1', '1.2.3'],
  ];
  for (const [tag, pattern, group, want] of rows)
    test(`${tag} ${pattern} group ${group} → ${want}`, () => {
      const got = tags(ctx('push', `refs/tags/${tag}`), { tags: [`type=match,pattern=${pattern},group=${group}`] });
      // The action adds latest for every match; Kura not when the git tag is a prerelease (beta, RC2 as PEP 440).
      assert.deepEqual(got, /beta|RC/.test(tag) ? [want] : [want, 'latest']);
    });
});

describe('README "type=ref"', () => {
  const rules = ['type=ref,event=branch', 'type=ref,event=tag', 'type=ref,event=pr'];
  const rows: [[string, string], string][] = [
    [PR, 'pr-2'],
    [MASTER, 'master'],
    [MY_BRANCH, 'my-branch'],
    [V123, 'v1.2.3'],
    [BETA, 'v2.0.8-beta.67'],
    [DISPATCH, 'master'],
  ];
  for (const [[event, ref], want] of rows)
    test(`${event} ${ref} → ${want}`, () => {
      assert.equal(tags(ctx(event, ref), { tags: rules, flavor: ['latest=false'] })[0], want);
    });
});

test('README "priority attribute": the default priorities, and the highest names the version', () => {
  for (const [type, p] of Object.entries({ schedule: 1000, semver: 900, pep440: 900, match: 800 }))
    assert.equal(RULE_PRIORITY[type as keyof typeof RULE_PRIORITY], p);
  const line = (t: string) => (t === 'ref' ? 'type=ref,event=branch' : t === 'raw' ? 'type=raw,value=x' : `type=${t}`);
  for (const [type, p] of Object.entries({ edge: 700, ref: 600, raw: 200, sha: 100 }))
    assert.equal(parseRule(line(type)).priority, p);
  const m = computeMeta(ctx(...MASTER), { now: NOW, tags: ['type=sha', 'type=raw,value=foo', 'type=edge'] });
  assert.deepEqual(m.tags, ['edge', 'foo', 'sha-860c190']);
  assert.equal(m.labels['org.opencontainers.image.version'], 'edge');
  const up = computeMeta(ctx(...MASTER), { tags: ['type=raw,value=foo', 'type=sha,priority=300'] });
  assert.deepEqual(up.tags, ['sha-860c190', 'foo']);
});

describe('README "Global expressions"', () => {
  const value = (c: CiContext, v: string) => tags(c, { tags: [`type=raw,value=${v}`] });
  const payload = { baseRef: 'master' };
  const rows: [[string, string], string[], string[], string[]][] = [
    // [row, {{branch}}, {{tag}}, {{base_ref}}]
    [PR, [], [], ['master']],
    [MASTER, ['master'], [], []],
    [MY_BRANCH, ['my-branch'], [], []],
    [V123, [], ['v1.2.3'], ['master']],
  ];
  for (const [[event, ref], branch, tag, baseRef] of rows)
    test(`${event} ${ref}: branch ${branch}, tag ${tag}, base_ref ${baseRef}`, () => {
      const c = ctx(event, ref, ref.startsWith('refs/heads/') ? {} : payload);
      assert.deepEqual(value(c, '{{branch}}'), branch);
      assert.deepEqual(value(c, '{{tag}}'), tag);
      assert.deepEqual(value(c, '{{base_ref}}'), baseRef);
    });
  test('{{sha}} and prefix={{branch}}-', () => {
    const c = ctx(...MASTER, { sha: '90dd6032fac8bda1b6c4436a2e65de27961ed071' });
    assert.deepEqual(value(c, 'mytag-{{branch}}-{{sha}}'), ['mytag-master-90dd603']);
    assert.deepEqual(tags(c, { tags: ['type=sha,prefix={{branch}}-'] }), ['master-90dd603']);
  });
  test('{{is_default_branch}}: latest on the default branch only', () => {
    const rule = ['type=raw,value=latest,enable={{is_default_branch}}'];
    assert.deepEqual(tags(ctx(...MASTER), { tags: rule }), ['latest']);
    assert.deepEqual(tags(ctx(...RELEASES), { tags: rule }), []);
    assert.deepEqual(tags(ctx(...V123), { tags: rule }), []);
  });
  const dates: [string, Date, string][] = [
    ["{{X 'YYYYMMDD'}}", NOW, '20200110'],
    [
      "{{X 'dddd, MMMM Do YYYY, h:mm:ss a'}}",
      new Date('2020-01-10T15:25:50Z'),
      'Friday, January 10th 2020, 3:25:50 pm',
    ],
    ["{{X 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", NOW, '20200110-093000'],
  ];
  for (const helper of ['date', 'commit_date'])
    for (const [expr, at, want] of dates)
      test(`${expr.replace('X', helper)} → ${want}`, () => {
        const c = ctx(...MASTER, { commitDate: at });
        // Labels are not CSV-split, so the commas of the format stay (as in the README's labels example).
        const m = computeMeta(c, { now: at, labels: [`d=${expr.replace('X', helper)}`] });
        assert.equal(m.labels.d, want);
      });
  test('commit_date is the commit date, date is now', () => {
    const c = ctx(...MASTER, { commitDate: new Date('2019-03-04T05:06:07Z') });
    const m = computeMeta(c, {
      now: NOW,
      labels: ["c={{commit_date 'YYYY-MM-DDTHH:mm:ss.SSS[Z]'}}", "d={{date 'YYYY'}}"],
    });
    assert.equal(m.labels.c, '2019-03-04T05:06:07.000Z');
    assert.equal(m.labels.d, '2020');
  });
});

test('README "Major version zero": {{major}} disabled for v0.x', () => {
  const rules = ['type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}'];
  assert.deepEqual(
    tags(ctx('push', 'refs/tags/v0.1.2'), { tags: [...rules, 'type=semver,pattern={{major}},enable=false'] }),
    ['0.1.2', '0.1', 'latest'],
  );
});

describe('flavor, images, sanitising', () => {
  test('flavor prefix/suffix apply to each tag, and to latest only with onlatest=true', () => {
    const rules = ['type=semver,pattern={{version}}', 'type=sha,prefix='];
    assert.deepEqual(tags(ctx(...V123), { tags: rules, flavor: ['prefix=app-', 'suffix=-slim'] }), [
      'app-1.2.3-slim',
      '860c190-slim',
      'latest',
    ]);
    assert.deepEqual(tags(ctx(...V123), { tags: rules.slice(0, 1), flavor: ['suffix=-slim,onlatest=true'] }), [
      '1.2.3-slim',
      'latest-slim',
    ]);
  });
  test('latest=true adds latest on a branch, latest=false never', () => {
    assert.deepEqual(tags(ctx(...MASTER), { flavor: ['latest=true'] }), ['master', 'latest']);
    assert.deepEqual(tags(ctx(...V123), { flavor: ['latest=false'] }), ['v1.2.3']);
  });
  test('images: name=/enable=, a comma list, lowercased; none gives bare tags', () => {
    const c = ctx(...MASTER);
    assert.deepEqual(tags(c, { images: ['name=Name/Foo', 'name=ghcr.io/x/bar,enable=false', 'a/b,c/d'] }), [
      'name/foo:master',
      'a/b:master',
      'c/d:master',
    ]);
    assert.deepEqual(tags(c, {}), ['master']);
  });
  test('sha: long format, and the short length', () => {
    assert.deepEqual(tags(ctx(...MASTER), { tags: ['type=sha,format=long'] }), [`sha-${SHA}`]);
    assert.deepEqual(tags(ctx(...MASTER), { tags: ['type=sha'], shortShaLength: 12 }), ['sha-860c1904a1ce']);
  });
  test('invalid characters become - and a tag keeps 128 characters', () => {
    assert.equal(sanitizeTag('feat/ä b'), 'feat-b');
    assert.equal(sanitizeTag('x'.repeat(200)).length, 128);
  });
  test('extra labels override the generated ones; annotation levels multiply', () => {
    const m = computeMeta(ctx(...MASTER), {
      labels: ['org.opencontainers.image.title=Mine', 'maintainer=me'],
      annotationLevels: ['manifest', 'index'],
    });
    assert.equal(m.labels['org.opencontainers.image.title'], 'Mine');
    assert.equal(m.labels.maintainer, 'me');
    assert.equal(m.annotations.length, 16);
    assert.ok(m.annotations.some((a) => a.startsWith('index:org.opencontainers.image.revision=')));
  });
});

describe('the fix: a prerelease git tag never becomes latest by an automatic rule', () => {
  for (const rule of ['type=ref,event=tag', 'type=match,pattern=v(.*),group=1', 'type=semver,pattern={{raw}}'])
    test(`${rule} at v3.0.0-rc.1`, () => {
      assert.ok(!tags(ctx('push', 'refs/tags/v3.0.0-rc.1'), { tags: [rule] }).includes('latest'));
    });
  test('a PEP 440 prerelease tag (1.0rc1) with type=ref,event=tag', () => {
    assert.deepEqual(tags(ctx('push', 'refs/tags/1.0rc1'), {}), ['1.0rc1']);
  });
  test('flavor latest=true is an explicit request and still adds it', () => {
    assert.deepEqual(tags(ctx(...BETA), { flavor: ['latest=true'] }), ['v2.0.8-beta.67', 'latest']);
  });
});

describe('bad rules are refused with what to write', () => {
  const bad: [string, RegExp][] = [
    ['type=nope', /unknown tag type "nope"/],
    ['type=semver', /needs pattern=/],
    ['type=ref', /needs event=branch, event=tag or event=pr/],
    ['type=sha,format=medium', /format must be short or long/],
    ['type=raw,value=x,enable=maybe', /enable must be true or false/],
    ['type=raw,value={{nope}}', /unknown expression \{\{nope\}\}/],
    ["type=schedule,pattern={{date 'YYYY' tz='Mars/Base'}}", /unknown time zone/],
    ['type=match,pattern=(', /not a regular expression/],
  ];
  for (const [rule, re] of bad)
    test(rule, () => {
      assert.throws(() => computeMeta(ctx('schedule', 'refs/tags/v1.2.3'), { tags: [rule] }), re);
    });
});
