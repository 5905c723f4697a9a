/** Units of the web UI without a server: orders, sizes, chart geometry, Dockerfile lines, paths, cookies. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { barLengths } from '../ui/chart.js';
import { bytes, naturalCompare, nameFilter, semverCompare, shortDigest } from '../ui/format.js';
import { dockerfileLine } from '../ui/manifest-data.js';
import { parseRepoPath, safeBack } from '../ui/routes.js';
import { cookie, parseCookies, sameToken } from '../ui/session.js';
import { sortTags, totals } from '../ui/tags.js';
import type { Digest } from '../oci/digest.js';

const tag = (name: string, pushedAt = 0) => ({
  name,
  digest: 'sha256:x' as Digest,
  pushedAt,
  mediaType: 'm',
  artifactType: null,
  pulledAt: null,
});

describe('orders', () => {
  test('natural: digit runs compare as numbers', () => {
    const got = ['v10', 'v2', 'v1', 'a', 'v02', '1.10', '1.9', '1.9.1'].sort(naturalCompare);
    assert.deepEqual(got, ['1.9', '1.9.1', '1.10', 'a', 'v1', 'v02', 'v2', 'v10']);
  });

  test('semver: versions by number, a pre-release before its release, other tags last', () => {
    const got = ['latest', '1.10.0', 'v1.2.0', '1.2.0-rc.2', '1.2.0-rc.10', '2', '1.2', 'edge'].sort(semverCompare);
    assert.deepEqual(got, ['1.2.0-rc.2', '1.2.0-rc.10', '1.2', 'v1.2.0', '1.10.0', '2', 'edge', 'latest']);
  });

  test('sortTags: each key, reversed with "-", ties by name', () => {
    const tags = [tag('b', 2), tag('a', 2), tag('v10', 1), tag('v9', 3)];
    assert.deepEqual(
      sortTags([...tags], 'pushed').map((t) => t.name),
      ['v10', 'a', 'b', 'v9'],
    );
    assert.deepEqual(
      sortTags([...tags], '-natural').map((t) => t.name),
      ['v10', 'v9', 'b', 'a'],
    );
    assert.deepEqual(
      sortTags([...tags], 'name').map((t) => t.name),
      ['a', 'b', 'v10', 'v9'],
    );
  });

  test('filters: substring, or a glob with * and ? over the whole name; regex characters are literal', () => {
    assert.equal(nameFilter('1.2')('v1.2.3'), true);
    assert.equal(nameFilter('1.2')('v1x2'), false);
    assert.equal(nameFilter('v1.*')('v1.2'), true);
    assert.equal(nameFilter('v1.*')('xv1.2'), false);
    assert.equal(nameFilter('v?')('v1'), true);
    assert.equal(nameFilter('(a|b)*')('a'), false);
  });
});

describe('figures', () => {
  test('bytes: binary units, never a bare 0 for something sized', () => {
    assert.equal(bytes(0), '0 B');
    assert.equal(bytes(1023), '1023 B');
    assert.equal(bytes(1536), '1.5 KiB');
    assert.equal(bytes(150 * 1024 * 1024), '150 MiB');
    assert.equal(shortDigest(`sha256:${'a'.repeat(64)}`), `sha256:${'a'.repeat(12)}`);
  });

  test('bar lengths are proportional to the largest; a non-zero value gets at least 1 px', () => {
    assert.deepEqual(barLengths([100, 50, 0, 0.001], 200), [200, 100, 0, 1]);
    assert.deepEqual(barLengths([], 200), []);
    assert.deepEqual(barLengths([0, 0], 200), [0, 0]);
  });

  test('an index is as big as the sum of its children; an image is manifest + blobs', () => {
    const d = (x: string) => `sha256:${x}` as Digest;
    const rows = [
      { digest: d('i'), parent: null, mediaType: 'idx', artifactType: null, size: 300, blobBytes: 0, pulledAt: null },
      { digest: d('a'), parent: d('i'), mediaType: 'm', artifactType: null, size: 10, blobBytes: 1000, pulledAt: null },
      { digest: d('b'), parent: d('i'), mediaType: 'm', artifactType: null, size: 20, blobBytes: 2000, pulledAt: null },
      { digest: d('a'), parent: null, mediaType: 'm', artifactType: null, size: 10, blobBytes: 1000, pulledAt: null },
    ];
    const t = totals(rows);
    assert.deepEqual(t.get(d('i')), { size: 3030, children: 2, scanned: [d('a'), d('b')] });
    assert.deepEqual(t.get(d('a')), { size: 1010, children: 0, scanned: [d('a')] }, 'an image: its own scan');
  });
});

describe('history as a Dockerfile', () => {
  test('classic, buildkit and ARG-prefixed commands', () => {
    assert.equal(dockerfileLine('/bin/sh -c #(nop)  CMD ["sh"]'), 'CMD ["sh"]');
    assert.equal(dockerfileLine('/bin/sh -c #(nop) ADD file:abc in / '), 'ADD file:abc in /');
    assert.equal(dockerfileLine('/bin/sh -c apk add curl'), 'RUN apk add curl');
    assert.equal(dockerfileLine('RUN /bin/sh -c make install # buildkit'), 'RUN make install');
    assert.equal(dockerfileLine('|2 A=1 B=2 /bin/sh -c echo $A'), 'RUN echo $A');
    assert.equal(dockerfileLine('COPY . /src # buildkit'), 'COPY . /src');
    assert.equal(dockerfileLine(undefined), '# (no command recorded)');
  });
});

describe('paths and cookies', () => {
  test('repository paths are read from the right', () => {
    assert.deepEqual(parseRepoPath('a/b'), { repo: 'a/b' });
    assert.deepEqual(parseRepoPath('a/b/t/v1'), { repo: 'a/b', tag: 'v1' });
    const dg = `sha256:${'0'.repeat(64)}`;
    assert.deepEqual(parseRepoPath(`a/m/${dg}`), { repo: 'a', digest: dg });
    assert.deepEqual(parseRepoPath('t/v1'), { repo: 't/v1' });
    assert.equal(parseRepoPath('A/b'), null);
    assert.equal(parseRepoPath('a/../b'), null);
  });

  test('a redirect target stays under /ui', () => {
    assert.equal(safeBack('/ui/r/a?x=1'), '/ui/r/a?x=1');
    assert.equal(safeBack('/ui'), '/ui');
    for (const bad of ['//evil.example', 'https://evil.example/ui', '/uix', '/ui//evil', '/ui\\x', null]) {
      assert.equal(safeBack(bad), '/ui', String(bad));
    }
  });

  test('cookies: parsed leniently, written HttpOnly and SameSite=Strict, Secure under TLS', () => {
    assert.deepEqual(
      [...parseCookies('a=1; b=x y; c=ok; a=2')],
      [
        ['a', '1'],
        ['c', 'ok'],
      ],
    );
    assert.equal(cookie('s', 'v', { secure: true }), 's=v; Path=/ui; HttpOnly; SameSite=Strict; Secure');
    assert.match(cookie('s', '', { secure: false, maxAge: 0 }), /Max-Age=0$/);
    assert.equal(sameToken('abc', 'abc'), true);
    assert.equal(sameToken('abd', 'abc'), false);
    assert.equal(sameToken(undefined, 'abc'), false);
    assert.equal(sameToken('', ''), false);
  });
});
