import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Descriptor } from '../oci/artifact.js';
import { digestOf } from '../oci/digest.js';
import { MemoryBlobs, randomImage, randomIndex } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import { KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner } from './helpers.js';
import { tempDir } from './tempdirs.js';

const run = promisify(execFile);
const dir = tempDir('kura-sign-copy-');
const env = { ...process.env, CI: '1', KURA_PASSWORD: 'pw' };
const kura = kuraRunner({ env, cwd: dir });
const KEY = join(dir, 'cosign.key');
const PUB = join(dir, 'cosign.pub');
const missing = distributionMissing();

interface Node {
  kind: string;
  via: string;
  tag?: string;
  descriptor: { digest: string };
  size: number;
  children: Node[];
}
/** The graph as `kura tree --json` prints it: kinds, digests, tags and sizes, wherever it is. */
async function tree(image: string): Promise<Node> {
  return JSON.parse((await kura('tree', '--json', image)).stdout) as Node;
}
function count(n: Node, kind?: string): number {
  return (kind === undefined || n.kind === kind ? 1 : 0) + n.children.reduce((s, c) => s + count(c, kind), 0);
}

let kuraServer: KuraProcess;
let dist: Distribution | undefined;
let index: Awaited<ReturnType<typeof randomIndex>>;
let original: Node;
before(async () => {
  kuraServer = await startKura();
  if (!missing) dist = await startDistribution();
  await kura('key', 'generate');
  const host = kuraServer.host;
  const src = `${host}/graph/app:v1`;
  index = await randomIndex({ seed: 21 });
  await new RegistryClient({ registry: host }).repository('graph/app').write('v1', index);
  // Every kind of thing that hangs off an image: signatures of the index and each child (.sig tags),
  // an SBOM attestation as a referrer, a signature on that SBOM attestation, and a plain SPDX referrer.
  await kura('sign', '--key', KEY, '--recursive', src);
  const sbom = join(dir, 'sbom.json');
  writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
  const att = JSON.parse(
    (
      await kura('attest', '--key', KEY, '--predicate', sbom, '--type', 'spdx', '--referrers', '--json', src)
    ).stdout.trim(),
  ) as { stored: string };
  await kura('sign', '--key', KEY, `${host}/graph/app@${att.stored}`);
  const blobs = new MemoryBlobs();
  const doc = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'plain' }));
  const empty = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: blobs.put(empty), size: 2 },
      layers: [{ mediaType: 'application/spdx+json', digest: blobs.put(doc), size: doc.length }],
      subject: { mediaType: index.descriptor.mediaType, digest: index.descriptor.digest, size: index.descriptor.size },
    }),
  );
  const d = blobs.put(manifest);
  await new RegistryClient({ registry: host }).repository('graph/app').write(d, {
    descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: manifest.length },
    manifest,
    blobs,
  });
  original = await tree(src);
});
after(async () => {
  await kuraServer?.stop();
  await dist?.stop();
});

test('the graph to copy: index, 2 children, 3 signatures by tag, a signed SBOM attestation, an SBOM referrer', () => {
  assert.equal(original.kind, 'index');
  assert.equal(count(original, 'image'), 2);
  assert.equal(count(original, 'signature'), 4, 'index + 2 children + the attestation');
  assert.equal(count(original, 'attestation'), 1);
  assert.equal(count(original, 'sbom'), 1);
  const att = original.children.find((c) => c.kind === 'attestation')!;
  assert.equal(att.children[0]!.kind, 'signature', 'the SBOM attestation is signed');
});

test(
  'copy registry → registry without the referrers API (Distribution 2.8.2) keeps the graph; verify passes on the copy',
  { skip: missing },
  async () => {
    const dst = `${dist!.host}/graph/app:v1`;
    const out = await kura('copy', `docker://${kuraServer.host}/graph/app:v1`, `docker://${dst}`);
    assert.match(out.stderr, /also copied .*signature/);
    assert.deepEqual(await tree(dst), original);
    // The tag schema index for the root lists its referrers (Distribution has no API to ask).
    const res = await fetch(`http://${dist!.host}/v2/graph/app/manifests/sha256-${index.descriptor.digest.slice(7)}`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { manifests: Descriptor[] }).manifests.length, 2);
    await kura('verify', '--key', PUB, dst);
    const child = (JSON.parse(index.manifest.toString()) as { manifests: Descriptor[] }).manifests[1]!;
    await kura('verify', '--key', PUB, `${dist!.host}/graph/app@${child.digest}`);
    await kura('verify-attestation', '--key', PUB, '--type', 'spdx', dst);
  },
);

test(
  'copy from a registry without the referrers API into one with it (Distribution → kura serve) keeps the graph',
  { skip: missing },
  async () => {
    const dst = `${kuraServer.host}/graph/back:v1`;
    await kura('copy', '-q', `docker://${dist!.host}/graph/app:v1`, `docker://${dst}`);
    assert.deepEqual(await tree(dst), original);
    // kura serve answers the referrers API itself: the referrers are linked by their subject.
    const res = await fetch(`http://${kuraServer.host}/v2/graph/back/referrers/${index.descriptor.digest}`);
    assert.equal(((await res.json()) as { manifests: Descriptor[] }).manifests.length, 2);
    await kura('verify', '--key', PUB, dst);
  },
);

test('registry → oci: layout → registry restores the same graph, digest for digest', async () => {
  const layout = join(dir, 'layout');
  await kura('copy', '-q', `docker://${kuraServer.host}/graph/app:v1`, `oci:${layout}:v1`);
  assert.deepEqual(await tree(`oci:${layout}:v1`), original);
  await kura('verify', '--key', PUB, `oci:${layout}:v1`);
  const target = missing ? `${kuraServer.host}/graph/relaid:v1` : `${dist!.host}/graph/relaid:v1`;
  await kura('copy', '-q', `oci:${layout}:v1`, `docker://${target}`);
  assert.deepEqual(await tree(target), original);
  await kura('verify', '--key', PUB, target);
});

test('copy --no-referrers copies the image alone; --all-tags carries the graph of each tag', async () => {
  const bare = `${kuraServer.host}/graph/bare:v1`;
  const out = await kura('copy', '--no-referrers', `docker://${kuraServer.host}/graph/app:v1`, `docker://${bare}`);
  assert.doesNotMatch(out.stderr, /also copied/);
  const t = await tree(bare);
  assert.equal(count(t), 3, 'the index and its two children, nothing attached');
  const v = await run(process.execPath, [KURA_MAIN, 'verify', '--key', PUB, bare], { env }).catch(
    (e: { code: number }) => e,
  );
  assert.equal((v as { code: number }).code, 1);
  const archive = await kura(
    'copy',
    `docker://${kuraServer.host}/graph/app:v1`,
    `docker-archive:${join(dir, 'app-docker.tar')}:graph/app:v1`,
  );
  assert.match(
    archive.stderr,
    /kura: warning: docker-archive:.*cannot hold the 6 signature\(s\), attestation\(s\) or referrer\(s\) attached to sha256:[0-9a-f]{64}; they were not copied \(copy to oci-archive:FILE/,
  );
  const all = join(dir, 'all');
  await kura('copy', '-q', '--all-tags', `docker://${kuraServer.host}/graph/app`, `oci:${all}`);
  assert.deepEqual(await tree(`oci:${all}:v1`), original);
});

test('a single image with a signature and a referrer signature copies to a layout with both', async () => {
  const host = kuraServer.host;
  const img = await randomImage({ seed: 33 });
  await new RegistryClient({ registry: host }).repository('graph/one').write('v1', img);
  await kura('sign', '--key', KEY, `${host}/graph/one:v1`);
  await kura('sign', '--key', KEY, '--referrers', `${host}/graph/one:v1`);
  const layout = join(dir, 'one');
  await kura('copy', '-q', `docker://${host}/graph/one:v1`, `oci:${layout}:v1`);
  const verified = (await kura('verify', '--key', PUB, '--json', `oci:${layout}:v1`)).stdout.trim().split('\n');
  assert.equal(verified.length, 2);
  assert.equal(digestOf(img.manifest), img.descriptor.digest);
});

test(
  'copy --platform takes the chosen child with its own signature; tree marks BuildKit attestation manifests; ' +
    'sign refuses a layout',
  async () => {
    const host = kuraServer.host;
    const idx = await randomIndex({ seed: 51, attestations: true });
    await new RegistryClient({ registry: host }).repository('graph/bk').write('v1', idx);
    await kura('sign', '--key', KEY, '--recursive', `${host}/graph/bk:v1`);
    const g = await tree(`${host}/graph/bk:v1`);
    const kinds = g.children
      .filter((c) => c.via === 'child')
      .map((c) => c.kind)
      .sort();
    assert.ok(
      kinds.includes('attestation') && kinds.includes('image'),
      `BuildKit attestation manifests are attestations: ${kinds.join(',')}`,
    );
    const amd = (
      JSON.parse(idx.manifest.toString()) as { manifests: (Descriptor & { platform?: { architecture: string } })[] }
    ).manifests.find((m) => m.platform?.architecture === 'amd64')!;
    const layout = join(dir, 'bk');
    const out = (
      await kura('copy', '-q', '--platform', 'linux/amd64', `docker://${host}/graph/bk:v1`, `oci:${layout}:amd`)
    ).stdout.trim();
    assert.equal(out, amd.digest);
    const verified = (await kura('verify', '--key', PUB, '--json', `oci:${layout}:amd`)).stdout.trim().split('\n');
    assert.equal(
      (JSON.parse(verified[0]!) as { critical: { image: { 'docker-manifest-digest': string } } }).critical.image[
        'docker-manifest-digest'
      ],
      amd.digest,
    );
    const refused = await run(process.execPath, [KURA_MAIN, 'sign', '--key', KEY, `oci:${layout}:amd`], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal((refused as { code: number }).code, 1);
    assert.match(
      (refused as { stderr: string }).stderr,
      /^kura: error: oci:.*: sign an image in a registry \(the signature names its repository\); copy the layout there first\n$/,
    );
  },
);

test('registry → oci-archive → registry restores the same graph, digest for digest; verify reads it', async () => {
  const file = join(dir, 'graph.tar');
  const out = await kura('copy', `docker://${kuraServer.host}/graph/app:v1`, `oci-archive:${file}:v1`);
  assert.match(out.stderr, /also copied .*signature/);
  assert.deepEqual(await tree(`oci-archive:${file}:v1`), original);
  await kura('verify', '--key', PUB, `oci-archive:${file}:v1`);
  const target = missing ? `${kuraServer.host}/graph/unarchived:v1` : `${dist!.host}/graph/unarchived:v1`;
  await kura('copy', '-q', `oci-archive:${file}:v1`, `docker://${target}`);
  assert.deepEqual(await tree(target), original);
  await kura('verify', '--key', PUB, target);
  await kura('verify-attestation', '--key', PUB, '--type', 'spdx', target);
  // --no-referrers: the archive holds the image alone.
  const bare = join(dir, 'bare.tar');
  await kura('copy', '-q', '--no-referrers', `docker://${kuraServer.host}/graph/app:v1`, `oci-archive:${bare}:v1`);
  assert.equal(count(await tree(`oci-archive:${bare}:v1`)), 3);
});

test('save --format oci-archive keeps the graph (copied back, tree equal); docker-archive warns once', async () => {
  const src = `docker://${kuraServer.host}/graph/app:v1`;
  const file = join(dir, 'saved.tar');
  const saved = await kura('save', '--format', 'oci-archive', '-o', file, src);
  assert.match(saved.stderr, /also copied 4 signatures, 1 attestation, 1 sbom attached to sha256:/);
  const target = `${kuraServer.host}/graph/saved:v1`;
  await kura('copy', '-q', `oci-archive:${file}:v1`, `docker://${target}`);
  assert.deepEqual(await tree(target), original);
  await kura('verify', '--key', PUB, target);
  const docker = await kura('save', '-q', '-o', join(dir, 'saved-docker.tar'), src, `${kuraServer.host}/graph/one:v1`);
  assert.equal(docker.stderr, '', '-q: no warning');
  const warned = await kura('save', '--format', 'docker-archive', '-o', join(dir, 'saved-docker.tar'), src);
  const lines = warned.stderr.split('\n').filter((l) => l.startsWith('kura: warning:'));
  assert.deepEqual(lines.length, 1, warned.stderr);
  assert.match(
    lines[0]!,
    /^kura: warning: the docker-archive .*saved-docker\.tar cannot hold the 6 signature\(s\), attestation\(s\) or referrer\(s\) attached to the saved images; they were not saved \(use --format oci-archive to keep them/,
  );
  const quiet = await kura('save', '--no-referrers', '--format', 'docker-archive', '-o', join(dir, 'd2.tar'), src);
  assert.doesNotMatch(quiet.stderr, /warning/);
});
