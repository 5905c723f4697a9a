import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Descriptor } from '../../oci/artifact.js';
import type { Digest } from '../../oci/digest.js';
import { MemoryBlobs, randomImage, randomIndex, type MemoryArtifact, type TarFile } from '../../oci/random.js';
import { runTransportConformance } from '../conformance.js';
import { LocalStore, shortId } from './index.js';
import { tempDir } from '../../test/tempdirs.js';
import { testClock } from '../../test/helpers.js';

const tmp = (p: string) => tempDir(`kura-store-${p}-`);

{
  const dirs: string[] = [];
  runTransportConformance('local store', {
    create: async () => {
      const d = tmp('conf');
      dirs.push(d);
      return new LocalStore(d);
    },
    reopen: async (m) => new LocalStore((m as LocalStore).dir),
    refs: ['localhost/test/a:v1', 'localhost/test/b:v2'],
    cleanup: async () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  });
}

/** Layers with fixed content, so that equal files make equal (shared) blobs. */
const layer = (n: number): TarFile[] => [{ name: `l${n}/data`, data: Buffer.alloc(3000 + n * 500, n) }];

interface Fixture {
  store: LocalStore;
  img: Record<'A' | 'B' | 'C', MemoryArtifact>;
  /** Sizes of every blob by role: mA (manifest), cA (config), L1… (layers). */
  size: Record<string, number>;
}

/** A and B share layers 1 and 2; C shares layer 3 with A. */
async function fixture(labels: Partial<Record<'A' | 'B' | 'C', Record<string, string>>> = {}): Promise<Fixture> {
  const blobs = new MemoryBlobs();
  const A = await randomImage({ seed: 1, blobs, files: [layer(1), layer(2), layer(3)], labels: labels.A });
  const B = await randomImage({ seed: 2, blobs, files: [layer(1), layer(2), layer(4)], labels: labels.B });
  const C = await randomImage({ seed: 3, blobs, files: [layer(3), layer(5)], labels: labels.C });
  const size: Record<string, number> = {};
  for (const [k, a] of Object.entries({ A, B, C })) {
    const m = JSON.parse(a.manifest.toString()) as { config: Descriptor; layers: Descriptor[] };
    size[`m${k}`] = a.manifest.length;
    size[`c${k}`] = m.config.size;
  }
  const layersOf = (a: MemoryArtifact) => (JSON.parse(a.manifest.toString()) as { layers: Descriptor[] }).layers;
  [size.L1, size.L2, size.L3] = layersOf(A).map((l) => l.size) as [number, number, number];
  size.L4 = layersOf(B)[2]!.size;
  size.L5 = layersOf(C)[1]!.size;
  assert.equal(layersOf(C)[0]!.digest, layersOf(A)[2]!.digest, 'C shares layer 3 with A');
  // Images are listed newest first: the store's clock moves between writes (no real wait).
  const clock = testClock();
  const store = new LocalStore(tmp('fx'), { now: clock.now });
  for (const [k, a] of Object.entries({ A, B, C })) {
    await store.writeImage(`localhost/t/${k.toLowerCase()}:1`, a);
    clock.advance(3);
  }
  return { store, img: { A, B, C }, size };
}

const sum = (s: Record<string, number>, ...keys: string[]) => keys.reduce((n, k) => n + s[k]!, 0);
const onDisk = (store: LocalStore) =>
  new Set(readdirSync(join(store.dir, 'blobs', 'sha256')).map((h) => `sha256:${h}`));

test('df: SHARED and UNIQUE SIZE per image and the totals are the hand count of the blobs', async () => {
  const { store, img, size: s } = await fixture();
  const df = await store.df();
  const row = (a: MemoryArtifact) => df.images.find((u) => u.image.digest === a.descriptor.digest)!;
  assert.deepEqual(
    [row(img.A).size, row(img.A).sharedSize, row(img.A).uniqueSize],
    [sum(s, 'mA', 'cA', 'L1', 'L2', 'L3'), sum(s, 'L1', 'L2', 'L3'), sum(s, 'mA', 'cA')],
  );
  assert.deepEqual(
    [row(img.B).size, row(img.B).sharedSize, row(img.B).uniqueSize],
    [sum(s, 'mB', 'cB', 'L1', 'L2', 'L4'), sum(s, 'L1', 'L2'), sum(s, 'mB', 'cB', 'L4')],
  );
  assert.deepEqual(
    [row(img.C).size, row(img.C).sharedSize, row(img.C).uniqueSize],
    [sum(s, 'mC', 'cC', 'L3', 'L5'), sum(s, 'L3'), sum(s, 'mC', 'cC', 'L5')],
  );
  assert.equal(df.total, 3);
  assert.equal(df.active, 0, 'no containers: no image is active');
  assert.equal(df.size, sum(s, 'mA', 'cA', 'mB', 'cB', 'mC', 'cC', 'L1', 'L2', 'L3', 'L4', 'L5'));
  assert.equal(df.reclaimable, df.size, 'what prune -a frees: everything');
  assert.equal(df.reclaimable, (await store.planPrune({ all: true })).reclaimed);
  await store.writeImage('localhost/t/c:1', await randomImage({ seed: 9 }));
  const after = await store.df();
  assert.equal(after.active, 0);
  assert.equal(after.total, 4);
  assert.equal(after.reclaimable, after.size);
  assert.equal((await store.planPrune()).reclaimed, sum(s, 'mC', 'cC', 'L5'), 'dangling only: what only C holds');
});

test('prune: dangling only vs -a, with the reclaimed bytes of the hand count', async () => {
  const { store, img, size: s } = await fixture();
  await store.writeImage('localhost/t/c:1', await randomImage({ seed: 9 }));
  assert.deepEqual(
    (await store.list({ danglingOnly: true })).map((r) => r.digest),
    [img.C.descriptor.digest],
  );
  const plan = await store.planPrune();
  assert.deepEqual(
    plan.images.map((r) => r.digest),
    [img.C.descriptor.digest],
  );
  assert.equal(plan.reclaimed, sum(s, 'mC', 'cC', 'L5'));
  const done = await store.prune();
  assert.equal(done.reclaimed, plan.reclaimed);
  assert.deepEqual(done.items.at(-1), { deleted: JSON.parse(img.C.manifest.toString()).config.digest });
  const disk = onDisk(store);
  for (const b of plan.blobs) assert.ok(!disk.has(b.digest), `${b.digest} deleted`);
  assert.equal((await store.list()).length, 3, 'tagged images stay');
  const all = await store.prune({ all: true });
  assert.equal(all.images.length, 3);
  assert.equal((await store.list()).length, 0);
  assert.deepEqual(onDisk(store), new Set());
});

test('prune -a with label filters (label=k=v, label!=k) and until', async () => {
  const labels = { A: { team: 'x' }, B: { team: 'y' } };
  const f1 = await fixture(labels);
  const p1 = await f1.store.prune({ all: true, labels: [{ key: 'team', value: 'x', negate: false }] });
  assert.deepEqual(
    p1.images.map((r) => r.digest),
    [f1.img.A.descriptor.digest],
  );
  assert.equal(p1.reclaimed, sum(f1.size, 'mA', 'cA'), 'A shares every layer with B or C');

  const f2 = await fixture(labels);
  const p2 = await f2.store.prune({ all: true, labels: [{ key: 'team', negate: true }] });
  assert.deepEqual(
    p2.images.map((r) => r.digest),
    [f2.img.C.descriptor.digest],
  );
  assert.equal(p2.reclaimed, sum(f2.size, 'mC', 'cC', 'L5'));

  const f3 = await fixture();
  const configOf = (a: MemoryArtifact) =>
    JSON.parse(a.blobs.map.get(JSON.parse(a.manifest.toString()).config.digest)!.toString()) as { created: string };
  const created = Object.fromEntries(Object.entries(f3.img).map(([k, a]) => [k, configOf(a).created]));
  const until = new Date(Object.values(created).sort()[1]!);
  const older = Object.keys(created).filter((k) => new Date(created[k]!) < until);
  const p3 = await f3.store.planPrune({ all: true, until });
  assert.deepEqual(p3.images.map((r) => r.digest).sort(), older.map((k) => f3.img[k as 'A'].descriptor.digest).sort());
  assert.equal(p3.images.length, 1);
});

test('prune --keep-storage removes the least recently added images until the store fits', async () => {
  const { store, img, size: s } = await fixture();
  const total = (await store.df()).size;
  assert.equal((await store.planPrune({ all: true, keepStorage: total })).images.length, 0);
  const one = await store.planPrune({ all: true, keepStorage: total - 1 });
  assert.deepEqual(
    one.images.map((r) => r.digest),
    [img.A.descriptor.digest],
  );
  assert.equal(one.reclaimed, sum(s, 'mA', 'cA'));
  // A frees only its manifest and config; B then frees L1, L2 and L4 as well.
  const two = await store.prune({ all: true, keepStorage: total - sum(s, 'mA', 'cA') - 1 });
  assert.deepEqual(
    two.images.map((r) => r.digest),
    [img.A.descriptor.digest, img.B.descriptor.digest],
  );
  assert.equal(two.reclaimed, sum(s, 'mA', 'cA', 'mB', 'cB', 'L1', 'L2', 'L4'));
  assert.equal((await store.df()).size, total - two.reclaimed);
});

test(
  'rmi of a shared-layer image keeps the blobs of the others; an ID with names in two repositories needs ' + '-f',
  async () => {
    const { store, img } = await fixture();
    const blobsOf = (a: MemoryArtifact) =>
      [a.descriptor.digest, ...[...a.blobs.map.keys()].filter((d) => a.manifest.includes(d))] as Digest[];
    const r = await store.remove(['localhost/t/a:1']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.items.map((i) => Object.keys(i)[0]),
      ['untagged', 'untagged', 'deleted'],
    );
    const disk = onDisk(store);
    for (const d of [...blobsOf(img.B), ...blobsOf(img.C)]) assert.ok(disk.has(d), `${d} of B or C kept`);
    assert.ok(!disk.has(img.A.descriptor.digest), 'A manifest gone');

    await store.tag('localhost/t/b:1', 'localhost/other/b:2');
    const id = shortId((await store.find('localhost/t/b:1'))!.configDigest!);
    const refused = await store.remove([id]);
    assert.match(
      refused.errors[0] ?? '',
      new RegExp(
        `^conflict: unable to delete ${id} \\(must be forced\\) - image is referenced in multiple repositories`,
      ),
    );
    assert.ok(await store.find('localhost/other/b:2'), 'nothing removed');
    const forced = await store.remove([id], { force: true });
    assert.deepEqual(forced.errors, []);
    assert.equal(await store.find('localhost/t/b:1'), undefined);
    assert.match((await store.remove(['localhost/t/nope:1'])).errors[0] ?? '', /no such image: localhost\/t\/nope:1/);
  },
);

test(
  'pull of an index keeps one platform, records the index digest; tag moves leave the old image ' + 'dangling',
  async () => {
    const store = new LocalStore(tmp('idx'));
    const idx = await randomIndex({ seed: 5 });
    const arm = (JSON.parse(idx.manifest.toString()) as { manifests: Descriptor[] }).manifests[1]!;
    const r = await store.writeImage('localhost/x/multi:1', idx, { platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(r.image.digest, arm.digest);
    assert.deepEqual(r.image.repoDigests, [`localhost/x/multi@${idx.descriptor.digest}`]);
    assert.equal(r.image.platform, 'linux/arm64/v8');
    assert.equal(
      (await store.writeImage('localhost/x/multi:1', idx, { platform: { os: 'linux', architecture: 'arm64' } }))
        .changed,
      false,
    );
    await assert.rejects(
      store.writeImage('localhost/x/multi:1', idx, { platform: { os: 'linux', architecture: 's390x' } }),
      /no linux\/s390x image .*it has: linux\/amd64, linux\/arm64\/v8.*--platform/,
    );
    await store.writeImage('localhost/x/multi:1', await randomImage({ seed: 6 }));
    const old = (await store.find(arm.digest))!;
    assert.deepEqual(old.names, []);
    assert.deepEqual(
      (await store.list({ danglingOnly: true })).map((x) => x.digest),
      [arm.digest],
    );
  },
);

/** A pid that surely is not running any more. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

test(
  'after a crash: temp files of dead writers are swept on the next write, a stale lock is broken, a live one ' +
    'waited for',
  async () => {
    const store = new LocalStore(tmp('crash'), { lockTimeoutMs: 300 });
    await store.writeImage('localhost/c/one:1', await randomImage({ seed: 1 }));
    const dir = join(store.dir, 'blobs', 'sha256');
    const dead = deadPid();
    const staleTmp = join(dir, `${'a'.repeat(64)}.${dead}.${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}.tmp`);
    const liveTmp = join(dir, `${'b'.repeat(64)}.${process.pid}.${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}.tmp`);
    writeFileSync(staleTmp, 'half a layer');
    writeFileSync(liveTmp, 'being written');
    writeFileSync(join(store.dir, 'images.lock'), `${dead}\nxyz\n`);
    const again = new LocalStore(store.dir);
    await again.writeImage('localhost/c/two:1', await randomImage({ seed: 2 }));
    assert.ok(!existsSync(staleTmp), 'stale temp swept');
    assert.ok(existsSync(liveTmp), 'a live writer keeps its temp file');
    assert.ok(!existsSync(join(store.dir, 'images.lock')), 'lock released');
    assert.equal((await again.list()).length, 2);
    // A blob left by a crash between the table's save and the blob deletions: prune takes it once an hour old.
    const orphan = join(dir, 'c'.repeat(64));
    writeFileSync(orphan, 'orphan');
    assert.equal((await again.planPrune()).blobs.length, 0, 'a fresh unreferenced blob may be a pull in progress');
    utimesSync(orphan, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    const p = await again.prune();
    assert.deepEqual(
      [p.images.length, p.blobs.map((b) => b.digest), p.reclaimed],
      [0, [`sha256:${'c'.repeat(64)}`], 6],
    );
    assert.ok(!existsSync(orphan));
    writeFileSync(join(store.dir, 'images.lock'), `${process.pid}\nheld\n`);
    await assert.rejects(
      store.tag('localhost/c/one:1', 'localhost/c/three:1'),
      /is locked by process \d+; wait for it to finish, or delete .*images\.lock/,
    );
    rmSync(join(store.dir, 'images.lock'));
  },
);

test('a writer killed at any moment leaves images.json whole and the store usable', async () => {
  const dir = tmp('kill');
  const store = new LocalStore(dir);
  await store.writeImage('localhost/k/base:1', await randomImage({ seed: 1 }));
  const mod = fileURLToPath(new URL('./store.js', import.meta.url));
  const script = `const { LocalStore } = await import(${JSON.stringify(mod)});
    const s = new LocalStore(${JSON.stringify(dir)});
    for (let i = 0; ; i++) await s.tag('localhost/k/base:1', 'localhost/k/t:' + i);`;
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const names = () =>
      (JSON.parse(readFileSync(join(dir, 'images.json'), 'utf8')) as { images: { names: string[] }[] }).images[0]!.names
        .length;
    const start = names();
    for (let i = 0; i < 200 && names() < start + 5; i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 1 + round * 7));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(names() >= start + 5, 'the child did write, and images.json parses');
    await store.tag('localhost/k/base:1', `localhost/k/after:${round}`);
  }
  assert.ok((await store.find('localhost/k/after:2'))!.names.length > 3);
});

test(
  'get by the digest of a layer is a clear MANIFEST_UNKNOWN naming it; a blob over the manifest limit is refused ' +
    'unread',
  async () => {
    const d = tmp('bydigest');
    try {
      const store = new LocalStore(d);
      const src = await randomImage({ seed: 7 });
      await store.write('localhost/test/x:v1', src);
      const m = JSON.parse(src.manifest.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
      const layer = m.layers[0]!.digest;
      await assert.rejects(
        store.get(layer),
        (e: Error & { code?: string }) =>
          e.code === 'MANIFEST_UNKNOWN' && e.message.includes(`has a blob ${layer}, but it is not a manifest or index`),
      );
      // The config digest is the image ID (docker's), so it names the image.
      assert.equal((await store.get(m.config.digest)).descriptor.digest, src.descriptor.digest);
      // 5 MiB under a name it does not hash to: reading it would fail verification, so this error means it was not
      // read.
      const big = `sha256:${'cd'.repeat(32)}` as Digest;
      writeFileSync(store.blobs.path(big), Buffer.alloc(5 << 20));
      await assert.rejects(
        store.get(big),
        (e: Error & { code?: string }) =>
          e.code === 'MANIFEST_UNKNOWN' && e.message.includes(`(${5 << 20} bytes, more than the`),
      );
      assert.deepEqual((await store.get(src.descriptor.digest)).manifest, src.manifest);
      await assert.rejects(
        store.get(`sha256:${'ef'.repeat(32)}`),
        (e: Error & { code?: string }) => e.code === 'MANIFEST_UNKNOWN' && /pull it first/.test(e.message),
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },
);
