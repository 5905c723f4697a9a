import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { FsBlobStore } from '../storage/fs.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { startTestServer, type TestServer } from '../test/testkit.js';

/**
 * The race every online GC has, provoked: pushers share layers, re-push, delete tags and manifests,
 * while GC runs every 150 ms with a 100 ms grace period. Bounded: 4 workers × 3 s.
 */
const WORKERS = 4;
const SECONDS = 3;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const shared = [randomBytes(20_000), randomBytes(30_000), randomBytes(15_000)];

interface Img {
  manifest: Buffer;
  digest: Digest;
  blobs: Map<Digest, Buffer>;
}

function image(worker: number, n: number): Img {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', worker, n }));
  const unique = randomBytes(5_000 + n * 100);
  const layers = [shared[n % 3]!, shared[(n + 1) % 3]!, unique];
  const blobs = new Map<Digest, Buffer>([
    [digestOf(config), config],
    ...layers.map((l) => [digestOf(l), l] as [Digest, Buffer]),
  ]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: digestOf(l),
        size: l.length,
      })),
    }),
  );
  return { manifest, digest: digestOf(manifest), blobs };
}

let ts: TestServer | undefined;
after(async () => {
  await ts?.close();
});

test(
  'online GC under concurrent pushes and deletes: no lost blob, and the store ends exactly ' + 'referenced',
  async (t) => {
    ts = await startTestServer({ gc: { interval: '150ms', grace: '100ms', allowShortGrace: true } });
    const server = ts;
    const stats = { pushes: 0, retries: 0, deletes: 0, blobUnknownOnPush: 0 };
    // What each worker's tags should point at when it stops (tags are per worker, images per worker).
    const expected = new Map<string, Img>();

    // Odd workers remember what they pushed and skip the HEAD, like a client with a local "already
    // pushed" cache: they are the ones that can lose a race with a GC mark.
    async function push(repo: string, tag: string, img: Img, known: Set<Digest> | null): Promise<void> {
      for (const [d, bytes] of img.blobs) {
        if (known?.has(d)) continue;
        known?.add(d);
        const head = await server.req('HEAD', `/v2/${repo}/blobs/${d}`);
        if (head.status === 200) continue;
        const up = await server.req('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: bytes });
        assert.equal(up.status, 201, up.text());
      }
      for (let attempt = 0; ; attempt++) {
        const put = await server.req('PUT', `/v2/${repo}/manifests/${tag}`, {
          body: img.manifest,
          headers: { 'content-type': OCI_MANIFEST },
        });
        if (put.status === 201) return;
        // The allowed outcome of losing the race to a GC mark: the missing blobs are named; upload them again.
        assert.equal(put.status, 400, put.text());
        const missing = (put.json().errors as { code: string; detail: { digest: Digest } }[]).map((e) => {
          assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
          return e.detail.digest;
        });
        stats.blobUnknownOnPush++;
        assert.ok(attempt < 5, 'a manifest PUT kept failing');
        stats.retries++;
        for (const d of missing) {
          const up = await server.req('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: img.blobs.get(d)! });
          assert.equal(up.status, 201);
        }
      }
    }

    // Count what the scheduled collections delete while the pushers run.
    const registry = server.running.registry;
    const collect = registry.collectGarbage.bind(registry);
    let sweptDuringRun = 0;
    registry.collectGarbage = async (o) => {
      const r = await collect(o);
      sweptDuringRun += r.swept;
      return r;
    };
    const deadline = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const repo = `chaos/w${w % 2}`; // two workers per repository, sharing layers across both
        const images = Array.from({ length: 6 }, (_, n) => image(w, n));
        let round = 0;
        const known = w % 2 === 1 ? new Set<Digest>() : null;
        while (Date.now() < deadline) {
          const n = round++ % images.length;
          const tag = `w${w}-${n}`;
          const img = images[n]!;
          await push(repo, tag, img, known);
          expected.set(`${repo}:${tag}`, img);
          stats.pushes++;
          if (round % 4 === 0) {
            // Delete a manifest by digest (all its tags go) and sometimes only a tag; wait a bit so the
            // freed blobs age past the grace period while others still need them.
            const victim = (round / 4) % images.length;
            const vtag = `w${w}-${victim}`;
            const del = await server.req(
              'DELETE',
              `/v2/${repo}/manifests/${round % 8 === 0 ? images[victim]!.digest : vtag}`,
            );
            assert.ok(del.status === 202 || del.status === 404, del.text());
            expected.delete(`${repo}:${vtag}`);
            stats.deletes++;
          }
          await new Promise((r) => setTimeout(r, Math.random() * 40));
        }
      }),
    );
    assert.ok(stats.pushes > 20, `too few pushes to mean anything: ${JSON.stringify(stats)}`);
    t.diagnostic(JSON.stringify({ ...stats, sweptDuringRun }));
    assert.ok(sweptDuringRun > 0, 'the scheduled GC deleted nothing while the pushers ran');

    // Every tag that should exist pulls completely and byte-exact: zero BLOB_UNKNOWN.
    for (const [key, img] of expected) {
      const [repo, tag] = key.split(':') as [string, string];
      const m = await server.req('GET', `/v2/${repo}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(m.status, 200, `${key}: ${m.text()}`);
      assert.equal(digestOf(m.body), img.digest);
      for (const [d] of img.blobs) {
        const b = await server.req('GET', `/v2/${repo}/blobs/${d}`);
        assert.equal(b.status, 200, `${key} blob ${d}: ${b.text()}`);
        assert.equal('sha256:' + createHash('sha256').update(b.body).digest('hex'), d);
      }
    }

    // A final collection past every grace period leaves exactly the referenced set on disk. Untagged
    // manifests (their tag was deleted, not the manifest) are still referenced: ask the registry.
    await new Promise((r) => setTimeout(r, 150));
    await server.running.registry.collectGarbage({ graceMs: 0 });
    const onDisk = new Set<string>();
    for await (const d of new FsBlobStore(server.dataDir).list()) onDisk.add(d);
    const referenced = new Set<string>();
    for (const img of expected.values()) {
      referenced.add(img.digest);
      for (const d of img.blobs.keys()) referenced.add(d);
    }
    for (const d of referenced) assert.ok(onDisk.has(d), `referenced ${d} is missing on disk`);
    // Whatever else is on disk must be an untagged manifest that still exists, or what it references.
    const extra = [...onDisk].filter((d) => !referenced.has(d));
    for (const d of extra) {
      const state = await server.running.stores.meta.gc.state(d as Digest);
      assert.equal(state, 'live', `${d} on disk but ${state ?? 'no row'}`);
    }
    const candidates = await server.running.stores.meta.gc.candidates(Date.now() + 1, Date.now() + 1);
    assert.deepEqual(candidates, [], 'after a final GC nothing unreferenced remains');
  },
);
