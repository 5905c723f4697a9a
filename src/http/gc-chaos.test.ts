import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FsBlobStore } from '../storage/fs.js';
import type { Digest } from '../oci/digest.js';
import { assertAllPull, chaosWorker, sharedLayers, type ChaosImage } from '../test/gc-chaos-kit.js';
import { skewedClock } from '../test/helpers.js';
import { startTestServer, type TestServer } from '../test/testkit.js';

/**
 * The race every online GC has, provoked: pushers share layers, re-push, delete tags and manifests,
 * while GC runs every 150 ms with a 100 ms grace period. Bounded: 4 workers × 3 s.
 */
const WORKERS = 4;
const SECONDS = 3;

let ts: TestServer | undefined;
after(async () => {
  await ts?.close();
});

test(
  'online GC under concurrent pushes and deletes: no lost blob, and the store ends exactly ' + 'referenced',
  async (t) => {
    // The real time, but the test can move it past every grace period at the end instead of waiting.
    const clock = skewedClock();
    ts = await startTestServer(
      { gc: { interval: '150ms', grace: '100ms', allowShortGrace: true } },
      { now: clock.now },
    );
    const server = ts;
    const stats = { pushes: 0, retries: 0, deletes: 0, blobUnknownOnPush: 0 };
    // What each worker's tags should point at when it stops (tags are per worker, images per worker).
    const expected = new Map<string, ChaosImage>();

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
    const shared = sharedLayers();
    await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        // two workers per repository, sharing layers across both
        chaosWorker({ server, worker: w, repo: `chaos/w${w % 2}`, shared, until: deadline, expected, stats }),
      ),
    );
    assert.ok(stats.pushes > 20, `too few pushes to mean anything: ${JSON.stringify(stats)}`);
    t.diagnostic(JSON.stringify({ ...stats, sweptDuringRun }));
    assert.ok(sweptDuringRun > 0, 'the scheduled GC deleted nothing while the pushers ran');

    // Every tag that should exist pulls completely and byte-exact: zero BLOB_UNKNOWN.
    await assertAllPull(server, expected);

    // A final collection past every grace period leaves exactly the referenced set on disk. Untagged
    // manifests (their tag was deleted, not the manifest) are still referenced: ask the registry.
    clock.advance(150);
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
    const candidates = await server.running.stores.meta.gc.candidates(clock.now() + 1, clock.now() + 1);
    assert.deepEqual(candidates, [], 'after a final GC nothing unreferenced remains');
  },
);
