import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DockerArchive } from './archive/docker-archive.js';
import { DockerArchiveWriter } from './archive/docker-archive-writer.js';
import { OciArchive } from './archive/oci-archive.js';
import { OciLayout } from './layout/oci-layout.js';
import { LocalStore } from './local-store/store.js';
import { openLocation, parseLocation, readImage, writeImage } from './locations.js';
import { RegistryRepository } from './registry/repository.js';
import { tempDir } from '../test/tempdirs.js';

test('skopeo transport names parse into a transport, a path or reference, and whether the ref was defaulted', () => {
  const cases: [string, Partial<ReturnType<typeof parseLocation>>][] = [
    ['docker://localhost:5000/app', { ref: 'latest', refDefaulted: true, display: 'localhost:5000/app:latest' }],
    ['docker://localhost:5000/app:latest', { transport: 'docker', ref: 'latest', refDefaulted: false }],
    ['nginx', { transport: 'docker', ref: 'latest', refDefaulted: true, display: 'docker.io/library/nginx:latest' }],
    [`ghcr.io/o/r@sha256:${'a'.repeat(64)}`, { transport: 'docker', ref: `sha256:${'a'.repeat(64)}` }],
    ['oci:/tmp/dir', { transport: 'oci', path: '/tmp/dir', refDefaulted: true, display: 'oci:/tmp/dir:latest' }],
    ['oci:dir:v1', { transport: 'oci', path: 'dir', ref: 'v1', refDefaulted: false }],
    ['oci-archive:a.tar', { transport: 'oci-archive', path: 'a.tar', ref: '', refDefaulted: true }],
    ['docker-archive:a.tar:app:v1', { transport: 'docker-archive', path: 'a.tar', ref: 'app:v1', refDefaulted: false }],
    ['docker-archive:a.tar', { transport: 'docker-archive', path: 'a.tar', ref: '', refDefaulted: true }],
    ['local:app', { transport: 'local', ref: 'app', refDefaulted: true }],
    ['local:localhost:5000/app:1', { transport: 'local', ref: 'localhost:5000/app:1', refDefaulted: false }],
  ];
  for (const [input, want] of cases) {
    const got = parseLocation(input);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, `${input}: ${k}`);
  }
  assert.equal(parseLocation('oci-archive:a.tar', { forWriting: true }).ref, 'latest');
  assert.throws(() => parseLocation('dir:/tmp/x'), /the dir: transport is not available; use docker:\/\/REF/);
  assert.throws(() => parseLocation('docker://Bad'), /must be lowercase/);
});

test('each transport opens its medium: docker-archive is read or written, never both', async () => {
  const dir = tempDir('kura-locations-');
  const reg = await openLocation('docker://127.0.0.1:1/team/app:v1');
  assert.ok(reg.medium instanceof RegistryRepository);
  assert.equal(reg.image?.tag, 'v1');
  assert.ok((await openLocation(`oci:${dir}/layout:v1`)).medium instanceof OciLayout);
  assert.ok((await openLocation(`oci-archive:${dir}/a.tar`)).medium instanceof OciArchive);
  assert.ok((await openLocation(`docker-archive:${dir}/d.tar`)).medium instanceof DockerArchive);
  const out = await openLocation(`docker-archive:${dir}/d.tar:app:v1`, { forWriting: true });
  assert.ok(out.medium instanceof DockerArchiveWriter);
  assert.equal(out.ref, 'app:v1');
  const local = await openLocation('local:app:1', { store: join(dir, 'store') });
  assert.ok(local.medium instanceof LocalStore);
});

test('readImage and writeImage hand a registry the typed reference, other media their ref', async () => {
  const seen: unknown[] = [];
  const artifact = { descriptor: { mediaType: 'x', digest: 'sha256:' + '0'.repeat(64), size: 0 } } as never;
  const registry = await openLocation('docker://registry.example/team/app', { forWriting: true });
  const medium = registry.medium as RegistryRepository;
  medium.get = async (ref) => (seen.push(ref), artifact);
  medium.write = async (ref) => (seen.push(ref), artifact);
  await readImage(registry as never);
  await writeImage(registry, artifact);
  assert.equal(seen.length, 2);
  for (const ref of seen) {
    assert.equal(typeof ref, 'object', 'the registry gets the ImageReference, not a string');
    assert.deepEqual(
      {
        repository: (ref as { repository: string }).repository,
        tagDefaulted: (ref as { tagDefaulted?: boolean }).tagDefaulted,
      },
      { repository: 'team/app', tagDefaulted: true },
    );
  }
  const dir = tempDir('kura-loc-');
  const layout = await openLocation(`oci:${dir}:v1`, { forWriting: true });
  (layout.medium as OciLayout).write = async (ref) => (seen.push(ref), artifact);
  await writeImage(layout, artifact);
  assert.equal(seen[2], 'v1');
});
