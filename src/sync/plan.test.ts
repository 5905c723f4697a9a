/** Unit tests of the sync plan: skopeo's YAML, tag selection (regex, semver) and destination naming. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { destinationName, destinationOf, selectRefs, tagVersion } from './plan.js';
import { dockerSource, parseSyncYaml } from './sources.js';

const D = 'sha256:' + 'ab'.repeat(32);

test("skopeo's YAML: tag lists (empty: every tag), regexes, semver constraints, tls-verify and credentials", () => {
  const yaml = [
    'registry.example.com:',
    '  tls-verify: false',
    '  credentials: {username: john, password: "a secret"}',
    '  images:',
    '    busybox: []',
    `    ns/redis: ["1.0", "${D}"]`,
    '  images-by-tag-regex:',
    '    nginx: ^1\\.13\\.[12]-alpine-perl$',
    '  images-by-semver:',
    '    alpine: ">= 3.12.0"',
    'quay.io:',
    '  images:',
    '    coreos/etcd: [latest]',
  ].join('\n');
  const s = parseSyncYaml(yaml, 'sync.yml');
  assert.deepEqual(
    s.map((x) => [x.registry, x.repository, x.refs, x.tagRegex?.source, x.semver]),
    [
      ['registry.example.com', 'busybox', undefined, undefined, undefined],
      ['registry.example.com', 'ns/redis', ['1.0', D], undefined, undefined],
      ['registry.example.com', 'nginx', undefined, '^1\\.13\\.[12]-alpine-perl$', undefined],
      ['registry.example.com', 'alpine', undefined, undefined, '>= 3.12.0'],
      ['quay.io', 'coreos/etcd', ['latest'], undefined, undefined],
    ],
  );
  assert.deepEqual(s[0]!.access, { tlsVerify: false, credentials: { username: 'john', password: 'a secret' } });
  assert.deepEqual(s[4]!.access, {});
});

test('bad YAML is one error naming the file, the registry and the key', () => {
  const bad: [string, RegExp][] = [
    ['reg.io:\n  imagez: {a: []}', /sync\.yml: reg\.io: unknown key "imagez" \(known: images,/],
    ['reg.io:\n  images: {a: latest}', /images\.a must be a list of tags or digests/],
    ['reg.io:\n  images: {"a": ["no good"]}', /"no good" is neither a tag nor a digest/],
    ['reg.io:\n  images-by-tag-regex: {a: "("}', /images-by-tag-regex\.a: Invalid regular expression/],
    ['reg.io:\n  tls-verify: "no"', /tls-verify must be true or false/],
    ['reg.io:\n  credentials: {username: x}', /credentials must be \{username: NAME, password: SECRET\}/],
    ['reg.io:\n  images: {"A/B": []}', /reg\.io: .*A\/B/],
    ['[1, 2]', /expected a map of registries/],
    ['a: [', /sync\.yml: not YAML/],
  ];
  for (const [yaml, re] of bad) assert.throws(() => parseSyncYaml(yaml, 'sync.yml'), re, yaml);
});

test('tags by regex (a search, as Go matches), by semver (v and short versions read as skopeo does)', () => {
  const tags = [
    'latest',
    'v1.2.3',
    '1.2',
    '2.0.0',
    '3.0.0-rc1',
    '1.2.3.4',
    'v0.9',
    'sha256-' + 'ab'.repeat(32) + '.sig',
  ];
  const src = { registry: 'r.io', repository: 'a', access: {} };
  assert.deepEqual(selectRefs({ ...src, tagRegex: /^v/ }, tags), ['v1.2.3', 'v0.9']);
  assert.deepEqual(selectRefs({ ...src, semver: '>= 1.0, < 3' }, tags), ['v1.2.3', '1.2', '2.0.0']);
  assert.deepEqual(selectRefs({ ...src, semver: '~1.2' }, tags), ['v1.2.3', '1.2']);
  assert.deepEqual(selectRefs(src, tags), tags.slice(0, -1), 'every tag but the cosign one, which travels along');
  assert.deepEqual(selectRefs({ ...src, refs: ['x'] }, tags), ['x']);
  assert.throws(() => selectRefs({ ...src, semver: 'not a range' }, tags), /"not a range" is not a semver constraint/);
  assert.equal(tagVersion('1'), '1.0.0');
  assert.equal(tagVersion('latest'), undefined);
});

test("destination names: the last path part, or with --scoped the whole source path (skopeo's naming)", () => {
  const hub = dockerSource('busybox');
  assert.equal(hub.registry, 'docker.io');
  assert.equal(hub.refs, undefined, 'a repository without tag means every tag');
  const dest = { transport: 'docker' as const, base: 'mirror.local:5000/pfx' };
  assert.equal(destinationName(destinationOf(hub, 'v1', dest, false)), 'mirror.local:5000/pfx/busybox:v1');
  assert.equal(
    destinationName(destinationOf(hub, 'v1', dest, true)),
    'mirror.local:5000/pfx/docker.io/library/busybox:v1',
  );
  const deep = dockerSource('ghcr.io/org/team/app@' + D);
  assert.deepEqual(deep.refs, [D]);
  assert.equal(destinationName(destinationOf(deep, D, dest, false)), `mirror.local:5000/pfx/app@${D}`);
  const oci = { transport: 'oci' as const, dir: '/mirror' };
  assert.deepEqual(destinationOf(deep, 'v2', oci, true), {
    transport: 'oci',
    dir: '/mirror/ghcr.io/org/team/app',
    ref: 'v2',
  });
  assert.deepEqual(destinationOf(deep, 'v2', oci, false), { transport: 'oci', dir: '/mirror/app', ref: 'v2' });
  const ported = dockerSource('127.0.0.1:5000/ns/app:v1');
  assert.throws(
    () => destinationOf(ported, 'v1', dest, true),
    /would go to mirror\.local:5000\/pfx\/127\.0\.0\.1:5000\/ns\/app:v1, not a valid image name \(--scoped cannot/,
  );
});
