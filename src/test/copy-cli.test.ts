import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './testkit.js';
import { openImage, openIndex } from '../oci/image.js';
import { randomImage } from '../oci/random.js';
import { validateArtifact } from '../oci/validate.js';
import { OciArchive } from '../transports/archive/index.js';
import { OciLayout } from '../transports/layout/index.js';
import { loadTree } from '../oci/tree.js';
import { loadTestImages, makeTestImages, type TestImage } from './kura-process.js';
import { kuraRunner } from './helpers.js';
import { tempDir } from './tempdirs.js';

const run = promisify(execFile);
const kura = kuraRunner({ env: { ...process.env, CI: '1' } });

let images: Map<string, TestImage>;
let server: TestServer;
let host: string;
before(async () => {
  images = await loadTestImages(await makeTestImages());
  server = await startTestServer();
  host = new URL(server.url).host;
});
after(() => server.close());

test(
  'copy keeps every platform by default; one --platform copies that image alone; two make a filtered ' + 'index',
  async () => {
    const img = images.get('multiarch')!;
    const all = (await kura('copy', '-q', `oci:${img.layout}:${img.tag}`, `docker://${host}/cp/all:v1`)).stdout.trim();
    assert.equal(all, img.digest);
    const out = tempDir('kura-copy-plat-');
    const one = (
      await kura('copy', '-q', '--platform', 'linux/arm64', `docker://${host}/cp/all:v1`, `oci:${out}:arm`)
    ).stdout.trim();
    const idx = openIndex(await new OciLayout(img.layout).get(img.tag));
    const arm = idx.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    assert.equal(one, arm.digest, 'the arm64 child itself, by digest');
    const two = (
      await kura(
        'copy',
        '-q',
        '--platform',
        'linux/arm64',
        '--platform',
        'linux/amd64',
        `docker://${host}/cp/all:v1`,
        `oci:${out}:both`,
      )
    ).stdout.trim();
    assert.equal(two, img.digest, 'both platforms kept: the same index bytes');
    await assert.rejects(
      kura('copy', '-q', '--platform', 'linux/s390x', `docker://${host}/cp/all:v1`, `oci:${out}:none`),
      (e: { stderr: string; code: number }) => {
        assert.equal(e.code, 1);
        assert.match(e.stderr, /^kura: error: .*linux\/s390x.*linux\/amd64.*--platform\n$/);
        return true;
      },
    );
  },
);

test(
  'index create joins per-platform images into one index, pushed by digest with only the target ' + 'tagged',
  async () => {
    const img = images.get('multiarch')!;
    const idx = openIndex(await new OciLayout(img.layout).get(img.tag));
    for (const m of idx.manifests) {
      await kura(
        'copy',
        '-q',
        `oci:${img.layout}:${img.tag}`,
        `docker://${host}/idx/${m.platform!.architecture}:v1`,
        '--platform',
        `${m.platform!.os}/${m.platform!.architecture}`,
      );
    }
    const dry = JSON.parse(
      (
        await kura(
          'index',
          'create',
          '--dry-run',
          '-t',
          `${host}/idx/multi:v1`,
          `${host}/idx/amd64:v1`,
          `${host}/idx/arm64:v1`,
          '--annotation',
          'org.opencontainers.image.version=1.0',
        )
      ).stdout,
    ) as { manifests: { digest: string; platform: { architecture: string } }[]; annotations: Record<string, string> };
    assert.deepEqual(
      dry.manifests.map((m) => m.platform.architecture),
      ['amd64', 'arm64'],
    );
    assert.equal(dry.annotations['org.opencontainers.image.version'], '1.0');
    const pushed = (
      await kura('index', 'create', '-q', '-t', `${host}/idx/multi:v1`, `${host}/idx/amd64:v1`, `${host}/idx/arm64:v1`)
    ).stdout.trim();
    const tags = (await (await fetch(`${server.url}/v2/idx/multi/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1'], 'children pushed by digest, not tagged');
    const res = await fetch(`${server.url}/v2/idx/multi/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(res.headers.get('docker-content-digest'), pushed);
    const layout = tempDir('kura-index-out-');
    await kura('copy', '-q', `docker://${host}/idx/multi:v1`, `oci:${layout}:v1`);
    const tree = await loadTree(await new OciLayout(layout).get('v1'));
    assert.deepEqual(tree.manifests.map((m) => m.descriptor.digest).sort(), idx.manifests.map((m) => m.digest).sort());
    // An archive target is written when it is closed: the index and its children are all in it.
    const archive = join(tempDir('kura-index-archive-'), 'multi.tar');
    const inArchive = (
      await kura(
        'index',
        'create',
        '-q',
        '-t',
        `oci-archive:${archive}:v1`,
        `${host}/idx/amd64:v1`,
        `${host}/idx/arm64:v1`,
      )
    ).stdout.trim();
    assert.equal(inArchive, pushed);
    const fromArchive = await loadTree(await new OciArchive(archive).get('v1'));
    assert.equal(fromArchive.descriptor.digest, pushed);
    assert.deepEqual(
      fromArchive.manifests.map((m) => m.descriptor.digest).sort(),
      idx.manifests.map((m) => m.digest).sort(),
    );
  },
);

test('--registry-mirror takes one URL per flag and leaves SRC and DST alone', async () => {
  const img = images.get('layers')!;
  const out = tempDir('kura-copy-mirror-');
  const d = (
    await kura(
      'copy',
      '-q',
      '--registry-mirror',
      'https://mirror-a.example',
      '--registry-mirror',
      'https://mirror-b.example',
      `oci:${img.layout}:${img.tag}`,
      `oci:${out}:v1`,
    )
  ).stdout.trim();
  assert.equal(d, img.digest);
});

test(
  'copy between every kind of location: layout → docker-archive → oci-archive → registry → layout; skopeo reads ' +
    'the archives',
  async () => {
    const img = images.get('layers')!;
    const dir = tempDir('kura-copy-arch-');
    await kura('copy', '-q', `oci:${img.layout}:${img.tag}`, `docker-archive:${dir}/d.tar:example.com/app:v1`);
    await kura('copy', '-q', `docker-archive:${dir}/d.tar:example.com/app:v1`, `oci-archive:${dir}/o.tar:v1`);
    await kura('copy', '-q', `oci-archive:${dir}/o.tar:v1`, `docker://${host}/arch/app:v1`);
    await kura('copy', '-q', `docker://${host}/arch/app:v1`, `oci:${dir}/layout:v1`);
    const diffIds = async (loc: string) =>
      JSON.parse((await run('skopeo', ['inspect', '--config', loc])).stdout).rootfs.diff_ids as string[];
    const want = await diffIds(`oci:${img.layout}:${img.tag}`);
    assert.deepEqual(await diffIds(`docker-archive:${dir}/d.tar`), want);
    assert.deepEqual(await diffIds(`oci-archive:${dir}/o.tar:v1`), want);
    assert.deepEqual(await diffIds(`oci:${dir}/layout:v1`), want);
    await assert.rejects(
      kura('copy', '-q', `docker-archive:${dir}/missing.tar`, `oci:${dir}/x:v1`),
      (e: { stderr: string }) => /^kura: error: .*missing\.tar/.test(e.stderr),
    );
  },
);

test('copy --all-tags mirrors every tag of a repository, to a registry or a layout, in one command', async () => {
  const img = images.get('tiny')!;
  const multi = images.get('multiarch')!;
  for (const t of ['1.0', '1.1', '2.0'])
    await kura('copy', '-q', `oci:${img.layout}:${img.tag}`, `docker://${host}/all/src:${t}`);
  await kura('copy', '-q', `oci:${multi.layout}:${multi.tag}`, `docker://${host}/all/src:multi`);
  const out = (await kura('copy', '-q', '-a', `docker://${host}/all/src`, `docker://${host}/all/dst`)).stdout
    .trim()
    .split('\n')
    .sort();
  assert.deepEqual(
    out.map((l) => l.split(' ')[0]),
    ['1.0', '1.1', '2.0', 'multi'],
  );
  const tags = (await (await fetch(`${server.url}/v2/all/dst/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags.sort(), ['1.0', '1.1', '2.0', 'multi']);
  const dir = tempDir('kura-copy-all-');
  await kura('copy', '-q', '--all-tags', '-j', '2', `docker://${host}/all/src`, `oci:${dir}`);
  assert.deepEqual((await new OciLayout(dir).tags()).sort(), ['1.0', '1.1', '2.0', 'multi']);
  assert.equal((await new OciLayout(dir).get('multi')).descriptor.digest, multi.digest);
  await assert.rejects(kura('copy', '-a', `docker://${host}/all/src:1.0`, `oci:${dir}`), /without a tag or digest/);
});

test(
  'copy --dest-compress-format zstd recompresses layers (a Docker image becomes OCI), keeps diff_ids; skopeo ' +
    'reads it; gzip brings it back',
  async () => {
    const dir = tempDir('kura-copy-zstd-');
    const src = await randomImage({ seed: 5, layers: 2, format: 'docker' });
    await new OciLayout(`${dir}/src`).write('v1', src);
    await kura('copy', '-q', '--dest-compress-format', 'zstd', `oci:${dir}/src:v1`, `oci:${dir}/z:v1`);
    const z = await new OciLayout(`${dir}/z`).get('v1');
    const zm = JSON.parse(z.manifest.toString('utf8')) as {
      mediaType: string;
      config: { mediaType: string };
      layers: { mediaType: string }[];
    };
    assert.equal(zm.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(zm.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(
      zm.layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    );
    await validateArtifact(z);
    const diffIds = async (loc: string) =>
      JSON.parse((await run('skopeo', ['inspect', '--config', loc])).stdout).rootfs.diff_ids as string[];
    // (skopeo 1.9.3 does not list Docker schema2 entries of an OCI layout: the source is read by Kura.)
    const want = (await openImage(src).config()).rootfs.diff_ids;
    assert.deepEqual(await diffIds(`oci:${dir}/z:v1`), want);
    await run('skopeo', ['copy', '-q', `oci:${dir}/z:v1`, `oci:${dir}/by-skopeo:v1`]);
    await kura('copy', '-q', '--dest-compress-format', 'gzip', `oci:${dir}/z:v1`, `oci:${dir}/g:v1`);
    const g = await new OciLayout(`${dir}/g`).get('v1');
    assert.deepEqual(
      (JSON.parse(g.manifest.toString('utf8')) as { layers: { mediaType: string }[] }).layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip'],
    );
    await validateArtifact(g);
    assert.deepEqual(await diffIds(`oci:${dir}/g:v1`), want);
  },
);
