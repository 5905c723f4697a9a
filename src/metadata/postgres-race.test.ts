// What one writer (SQLite) cannot show: two pools (two replicas) racing manifest PUTs against GC mark.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { digestOf, type Digest } from '../oci/digest.js';
import { PgMetadataStore } from './postgres/index.js';
import type { ManifestRecord } from './types.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';

const url = await postgresUrl();
const ROUNDS = 12;
const PER_ROUND = 25;

function manifestOf(repo: string, label: string): ManifestRecord {
  return {
    repo,
    digest: digestOf(`race manifest ${label}`),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 200,
    artifactType: null,
    subject: null,
    annotations: null,
    createdAt: Date.now(),
  };
}

describe(
  'PostgreSQL: manifest PUT on one replica races GC mark on another',
  { skip: url ? false : POSTGRES_SKIP },
  () => {
    let a: PgMetadataStore;
    let b: PgMetadataStore;
    let drop: () => Promise<void>;
    before(async () => {
      const s = await freshSchema(url!);
      drop = s.drop;
      a = await PgMetadataStore.open({ url: url!, schema: s.schema, poolSize: 6 });
      b = await PgMetadataStore.open({ url: url!, schema: s.schema, poolSize: 6 });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await drop?.();
    });

    test('a blob is either referenced by the stored manifest or marked, never both', async (t) => {
      const future = () => Date.now() + 60_000;
      const stored: { rec: ManifestRecord; blobs: Digest[] }[] = [];
      let marked = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Each manifest references its own layer and a layer shared by the round, so locks overlap.
        const shared = digestOf(`race shared ${round}`);
        const items = Array.from({ length: PER_ROUND }, (_, i) => ({
          rec: manifestOf('race', `${round}-${i}`),
          blobs: [digestOf(`race layer ${round}-${i}`), shared],
        }));
        await a.blobs.add('race', shared, 5);
        for (const it of items) await a.blobs.add('race', it.blobs[0]!, 10);
        const all = [shared, ...items.map((it) => it.blobs[0]!)];
        const now = Date.now() + 1;
        // Pushers on replica a; the collector on replica b marks one by one and all at once, interleaved.
        const puts = items.map(async (it) => ({
          it,
          res: await a.manifests.put(it.rec, { blobs: it.blobs, manifests: [] }, [`t${round}`]),
        }));
        // On odd rounds the collector starts once the first PUT has committed, so both outcomes occur however
        // fast the machine is (on an idle one the marks would otherwise win every round); the rest still race.
        if (round % 2 === 1) await puts[0];
        const marks = [...all.map((d) => b.gc.mark([d], now, future())), b.gc.mark([...all].reverse(), now, future())];
        const [putResults, markResults] = await Promise.all([Promise.all(puts), Promise.all(marks)]);
        const markedNow = new Set(markResults.flat());
        marked += markedNow.size;
        for (const { it, res } of putResults) {
          if (res.missing.length === 0) {
            stored.push(it);
            for (const d of it.blobs)
              assert.ok(!markedNow.has(d), `${d} was marked though a stored manifest references it`);
          } else {
            // Refused for exactly the blobs GC took.
            for (const d of res.missing) assert.ok(markedNow.has(d), `${d} reported missing but was not marked`);
          }
        }
      }
      // Every stored manifest's blobs are live and readable in its repository, and not GC candidates.
      const candidates = new Set(await b.gc.candidates(Date.now() + 1, future()));
      for (const { rec, blobs } of stored) {
        for (const d of blobs) {
          assert.equal(await b.gc.state(d), 'live');
          assert.notEqual(await b.blobs.get(rec.repo, d), null);
          assert.ok(!candidates.has(d));
        }
      }
      // Both outcomes must have happened for the race to mean something.
      assert.ok(stored.length > 0, 'no manifest was stored');
      assert.ok(marked > 0, 'nothing was marked');
      t.diagnostic(`stored ${stored.length} manifests, marked ${marked} blobs`);
    });
  },
);
