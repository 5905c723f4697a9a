import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageRecord } from '../../transports/local-store/index.js';
import { globMatcher, imageRows } from '../commands/images.js';
import { parseSize, parseUntil } from '../store.js';
import { humanDuration, humanSize, renderFormat } from './store-format.js';

test('sizes and ages as docker prints them (go-units)', () => {
  assert.deepEqual(
    [humanSize(187_312_345), humanSize(12_345_678), humanSize(5), humanSize(0), humanSize(999)],
    ['187MB', '12.3MB', '5B', '0B', '999B'],
  );
  assert.deepEqual(
    [humanSize(16_430_000, 4), humanSize(632_100, 4), humanSize(11_000_000, 4)],
    ['16.43MB', '632.1kB', '11MB'],
  );
  const h = 3_600_000;
  assert.deepEqual(
    [
      0.5e3,
      1e3,
      30e3,
      90e3,
      10 * 60e3,
      1.2 * h,
      1.6 * h,
      47 * h,
      13 * 24 * h,
      20 * 24 * h,
      100 * 24 * h,
      800 * 24 * h,
    ].map(humanDuration),
    [
      'Less than a second',
      '1 second',
      '30 seconds',
      'About a minute',
      '10 minutes',
      'About an hour',
      '2 hours',
      '47 hours',
      '13 days',
      '2 weeks',
      '3 months',
      '2 years',
    ],
  );
});

test('until, sizes and globs as the filters take them', () => {
  const now = Date.UTC(2025, 0, 2);
  assert.equal(parseUntil('24h', now).getTime(), Date.UTC(2025, 0, 1));
  assert.equal(parseUntil('1h30m', now).getTime(), now - 5_400_000);
  assert.equal(parseUntil('2024-05-01T00:00:00Z').getTime(), Date.UTC(2024, 4, 1));
  assert.equal(parseUntil('1714521600').getTime(), Date.UTC(2024, 4, 1));
  assert.throws(() => parseUntil('soon'), /invalid until "soon"/);
  assert.deepEqual(
    [parseSize('12.3MB'), parseSize('2GiB'), parseSize('1000'), parseSize('5kb')],
    [12_300_000, 2 * 1024 ** 3, 1000, 5000],
  );
  assert.ok(globMatcher('user/*').test('user/app'));
  assert.ok(!globMatcher('user/*').test('user/app/x'));
  assert.ok(globMatcher('ng?nx:1.[0-9]').test('nginx:1.7'));
});

test('rows per tag, digest-only repositories, dangling images; --format tables', async () => {
  const base = {
    digest: 'sha256:' + 'a'.repeat(64),
    configDigest: null,
    mediaType: '',
    created: null,
    added: '',
    size: 1,
    labels: {},
    platform: null,
    blobs: [],
  };
  const img = {
    ...base,
    names: ['docker.io/library/nginx:1', 'docker.io/library/nginx:latest'],
    repoDigests: ['docker.io/library/nginx@sha256:' + 'b'.repeat(64), 'localhost:5000/x@sha256:' + 'c'.repeat(64)],
  } as unknown as ImageRecord;
  assert.deepEqual(
    imageRows(img, false).map((r) => `${r.repository} ${r.tag} ${r.digest}`),
    ['nginx 1 <none>', 'nginx latest <none>', 'localhost:5000/x <none> '],
  );
  assert.deepEqual(
    imageRows(img, true).map((r) => `${r.repository} ${r.tag} ${r.digest.slice(0, 8)}`),
    ['nginx 1 sha256:b', 'nginx latest sha256:b', 'localhost:5000/x <none> sha256:c'],
  );
  assert.deepEqual(
    imageRows({ ...img, names: [], repoDigests: [] }, true).map((r) => `${r.repository} ${r.tag}`),
    ['<none> <none>'],
  );
  assert.equal(
    await renderFormat('table {{.Repository}}\\t{{ .Tag }}', [{ Repository: 'nginx', Tag: '1' }], {
      Repository: 'REPOSITORY',
      Tag: 'TAG',
    }),
    'REPOSITORY   TAG\nnginx        1\n',
  );
  assert.equal(
    await renderFormat('{{.Repository}}:{{.Tag}}', [{ Repository: 'a', Tag: 'b' }], { Repository: 'R', Tag: 'T' }),
    'a:b\n',
  );
});
