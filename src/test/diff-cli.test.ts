import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DiffReport } from '../analysis/diff.js';
import { startTestServer, type TestServer } from './testkit.js';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient, RegistryRepository } from '../transports/registry/index.js';
import { analysisFixture, fixtureMissing, type AnalysisFixture } from './analysis-fixture.js';
import { KURA_MAIN } from './kura-process.js';
import { kuraOk } from './helpers.js';
import { tempDir } from './tempdirs.js';

const work = tempDir('kura-diff-');
const env: NodeJS.ProcessEnv = { ...process.env, KURA_STORE: join(work, 'store') };
delete env.CI;
const kura = async (...args: string[]) => (await kuraOk(args, { env })).stdout;

let ts: TestServer;
let host: string;
before(async () => {
  ts = await startTestServer();
  host = new URL(ts.url).host;
});
after(() => ts.close());

test(
  'kura diff: added, deleted and changed files (type, size, mode, owner, content, link), config and ' + 'layers',
  async () => {
    const b = (s: string) => Buffer.from(s);
    const base = [
      { name: 'etc/', type: 'directory' as const },
      { name: 'etc/same', data: b('same') },
    ];
    const a = await randomImage({
      seed: 1,
      files: [
        base,
        [
          { name: 'gone', data: b('x') },
          { name: 'size', data: b('1') },
          { name: 'mode', data: b('m'), mode: 0o644 },
          { name: 'content', data: b('aaaa') },
          { name: 'ln', type: 'symlink', linkname: 'size' },
          { name: 'kind', data: b('k') },
        ],
      ],
    });
    const c = await randomImage({
      seed: 2,
      labels: { 'org.opencontainers.image.version': '2' },
      files: [
        base,
        [
          { name: 'new', data: b('n') },
          { name: 'size', data: b('12') },
          { name: 'mode', data: b('m'), mode: 0o755 },
          { name: 'content', data: b('bbbb') },
          { name: 'ln', type: 'symlink', linkname: 'mode' },
          { name: 'kind/', type: 'directory' },
        ],
      ],
    });
    await new OciLayout(join(work, 'a')).write('v1', a);
    await new OciLayout(join(work, 'c')).write('v1', c);
    const rep = JSON.parse(
      await kura('diff', '--json', `oci:${join(work, 'a')}:v1`, `oci:${join(work, 'c')}:v1`),
    ) as DiffReport;
    assert.deepEqual(
      rep.files.map((f) => [f.kind, f.path, f.fields]),
      [
        ['C', '/content', ['content']],
        ['D', '/gone', undefined],
        ['C', '/kind', ['type', 'size', 'mode']],
        ['C', '/ln', ['link']],
        ['C', '/mode', ['mode']],
        ['A', '/new', undefined],
        ['C', '/size', ['size', 'content']],
      ],
    );
    assert.deepEqual(rep.config, [
      { field: 'env.SEED', before: '1', after: '2' },
      { field: 'labels.org.opencontainers.image.version', before: null, after: '2' },
    ]);
    assert.equal(rep.layers.shared.length, 1, 'the identical base layer');
    assert.equal(rep.layers.onlyA.length, 1);
    assert.deepEqual(rep.summary, { added: 1, removed: 1, changed: 5, configChanges: 2, sharedLayers: 1 });
    const same = JSON.parse(
      await kura('diff', '--json', `oci:${join(work, 'a')}:v1`, `oci:${join(work, 'a')}:v1`),
    ) as DiffReport;
    assert.deepEqual([same.files, same.config, same.layers.onlyA], [[], [], []]);
  },
);

test(
  'kura diff across locations: a registry image against a docker-archive (built with umoci and skopeo)',
  { skip: fixtureMissing() },
  async () => {
    const fx: AnalysisFixture = await analysisFixture();
    const repo = new RegistryRepository(new RegistryClient({ registry: host }), 'diff/app');
    await repo.write('v1', await new OciLayout(join(fx.dir, 'layout')).get('v1'));
    const text = await kura('diff', `${host}/diff/app:v1`, fx.v2Archive);
    assert.match(text, /^Files: 1 added, 0 deleted, 0 changed\nA \/app\/main\.js\n/);
    assert.match(text, /  cmd: \["\/bin\/tool"\] → \["node","\/app\/main\.js"\]\n/);
    assert.match(text, /  user: \(unset\) → "1000:1000"\n/);
    assert.match(text, /  workdir: \(unset\) → "\/app"\n/);
    assert.match(text, /  ports: \[\] → \["8080\/tcp"\]\n/);
    assert.match(text, /Layers: 3 shared, 0 only in .*, 1 only in /);
  },
);
