/**
 * Test helper (not a test): the pushers of the GC chaos tests (one server in src/http/gc-chaos.test.ts, two
 * replicas in src/test/s3-replicas.test.ts): images sharing layers, pushed, re-pushed and deleted while a
 * collector runs, and the check that every tag still pulls byte-exact.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../oci/digest.js';
import type { Requester } from './testkit.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface ChaosImage {
  manifest: Buffer;
  digest: Digest;
  blobs: Map<Digest, Buffer>;
}

export interface ChaosStats {
  pushes: number;
  retries: number;
  deletes: number;
  blobUnknownOnPush: number;
}

/** Three layers every worker's images share in turn, so a collector always has shared blobs to race for. */
export function sharedLayers(): Buffer[] {
  return [randomBytes(20_000), randomBytes(30_000), randomBytes(15_000)];
}

/** Image `n` of worker `worker`: two shared layers, one of its own, and its own config. */
export function chaosImage(shared: Buffer[], worker: number, n: number): ChaosImage {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', worker, n }));
  const unique = randomBytes(5_000 + n * 100);
  const layers = [shared[n % shared.length]!, shared[(n + 1) % shared.length]!, unique];
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

/**
 * Pushes `img` as `repo:tag`. With `known` (a client's local "already pushed" cache) blobs in it are neither
 * HEADed nor sent: such a client can lose a race with a GC mark. The only allowed outcome of losing it is a
 * 400 MANIFEST_BLOB_UNKNOWN naming the missing blobs, which are uploaded again (at most 5 times).
 */
export async function chaosPush(
  server: Requester,
  repo: string,
  tag: string,
  img: ChaosImage,
  known: Set<Digest> | null,
  stats: ChaosStats,
): Promise<void> {
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
    assert.equal(put.status, 400, put.text());
    const missing = (put.json().errors as { code: string; detail: { digest: Digest } }[]).map((e) => {
      assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
      return e.detail.digest;
    });
    stats.blobUnknownOnPush++;
    assert.ok(attempt < 5, `a manifest PUT to ${repo}:${tag} kept failing: ${put.text()}`);
    stats.retries++;
    for (const d of missing) {
      const up = await server.req('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: img.blobs.get(d)! });
      assert.equal(up.status, 201);
    }
  }
}

/** Every tag of `expected` (REPO:TAG → image) pulls from `server` whole: its manifest and every blob, byte-exact. */
export async function assertAllPull(server: Requester, expected: Map<string, ChaosImage>, who = ''): Promise<void> {
  for (const [key, img] of expected) {
    const [repo, tag] = key.split(':') as [string, string];
    const m = await server.req('GET', `/v2/${repo}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(m.status, 200, `${who}${key}: ${m.text()}`);
    assert.equal(digestOf(m.body), img.digest);
    for (const [d] of img.blobs) {
      const b = await server.req('GET', `/v2/${repo}/blobs/${d}`);
      assert.equal(b.status, 200, `${who}${key} blob ${d}: ${b.text()}`);
      assert.equal(digestOf(b.body), d);
    }
  }
}

/**
 * One pusher until the wall clock reaches `until`: pushes its 6 images round after round (odd workers with a
 * local "already pushed" cache), and every 4th round deletes one, by digest (all its tags) or only a tag,
 * pausing up to 40 ms between rounds so freed blobs age past a short grace while others still need them.
 * `expected` ends with what each of its tags should point at.
 */
export async function chaosWorker(o: {
  server: Requester;
  worker: number;
  repo: string;
  shared: Buffer[];
  until: number;
  expected: Map<string, ChaosImage>;
  stats: ChaosStats;
}): Promise<void> {
  const images = Array.from({ length: 6 }, (_, n) => chaosImage(o.shared, o.worker, n));
  const known = o.worker % 2 === 1 ? new Set<Digest>() : null;
  let round = 0;
  while (Date.now() < o.until) {
    const n = round++ % images.length;
    const tag = `w${o.worker}-${n}`;
    const img = images[n]!;
    await chaosPush(o.server, o.repo, tag, img, known, o.stats);
    o.expected.set(`${o.repo}:${tag}`, img);
    o.stats.pushes++;
    if (round % 4 === 0) {
      const victim = (round / 4) % images.length;
      const vtag = `w${o.worker}-${victim}`;
      // By digest first (rounds 4, 12, ...: it frees blobs even in a short run), then by tag (8, 16, ...).
      const ref = round % 8 === 4 ? images[victim]!.digest : vtag;
      const del = await o.server.req('DELETE', `/v2/${o.repo}/manifests/${ref}`);
      assert.ok(del.status === 202 || del.status === 404, del.text());
      o.expected.delete(`${o.repo}:${vtag}`);
      o.stats.deletes++;
    }
    await new Promise((r) => setTimeout(r, Math.random() * 40));
  }
}
