import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestOf } from './digest.js';
import { formatImageReference, parseImageReference } from './imageref.js';

const d = digestOf('x');

test('image references get docker defaults', () => {
  const cases: [string, string][] = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/team/app:v2', 'localhost:5000/team/app:v2'],
    ['127.0.0.1:5000/a/b/c:t', '127.0.0.1:5000/a/b/c:t'],
    ['ghcr.io/org/repo', 'ghcr.io/org/repo:latest'],
    [`ghcr.io/org/repo@${d}`, `ghcr.io/org/repo@${d}`],
    [`ghcr.io/org/repo:1.0@${d}`, `ghcr.io/org/repo:1.0@${d}`],
    [`registry:5000/repo@${d}`, `registry:5000/repo@${d}`],
  ];
  for (const [input, want] of cases) assert.equal(formatImageReference(parseImageReference(input)), want, input);
  assert.deepEqual(parseImageReference('localhost:5000/app:v1'), {
    registry: 'localhost:5000',
    repository: 'app',
    tag: 'v1',
  });
  // Whether the tag was typed survives the parse: `latest` given and `latest` defaulted differ.
  assert.deepEqual(parseImageReference('localhost:5000/app'), {
    registry: 'localhost:5000',
    repository: 'app',
    tag: 'latest',
    tagDefaulted: true,
  });
  assert.equal(parseImageReference('app:latest').tagDefaulted, undefined);
  assert.equal(parseImageReference('app@sha256:' + 'a'.repeat(64)).tagDefaulted, undefined);
});

test('bad references are refused with the reason', () => {
  assert.throws(() => parseImageReference(''), /empty/);
  assert.throws(() => parseImageReference('Nginx'), /must be lowercase/);
  assert.throws(() => parseImageReference('nginx:bad tag'), /not a valid tag/);
  assert.throws(() => parseImageReference('nginx@sha256:123'), /not a sha256 or sha512 digest/);
  assert.throws(() => parseImageReference('a//b'), /not a repository name/);
  assert.throws(() => parseImageReference('-x'), /not a repository name/);
});
