// Scanning over an in-memory registry: counts per manifest (scanSummary), an index's report and policy verdict,
// re-matching from the kept packages after a database import, and attachments recorded as skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { digestOf, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { memoryApp } from '../../test/memory-app.js';
import { writeLayoutImage } from '../../test/sbom-fixtures.js';
import { DbWriter } from '../db.js';
import type { OsvRecord } from '../osv.js';
import { Scanning } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-scanning-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const INDEX = 'application/vnd.oci.image.index.v1+json';

function importRecords(file: string, source: string, records: OsvRecord[]): void {
  const w = new DbWriter(file);
  w.beginSource(source);
  for (const r of records) w.add(source, r);
  w.endSource(source);
  w.commit();
}
const record = (id: string, name: string, urgency: string): OsvRecord => ({
  id,
  modified: '2024-03-01T00:00:00Z',
  affected: [
    {
      package: { ecosystem: 'Debian:12', name },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
      ecosystem_specific: { urgency },
    },
  ],
});

test('scanSummary, an index report and verdict, re-matching after an import, attachments skipped', async () => {
  const layout = join(dir, 'img');
  const status = 'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n';
  const image = (await writeLayoutImage(layout, 'v1', [
    { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n', 'var/lib/dpkg/status': status },
  ])) as Digest;
  const blob = (d: string) => readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)));
  const dbFile = join(dir, 'osv.sqlite');
  importRecords(dbFile, 'one', [record('DEBIAN-CVE-2022-3715', 'bash', 'medium')]);

  const server = await memoryApp();
  const { registry, stores } = server;
  const scanning = new Scanning(registry, stores.meta.scans, {
    onPush: true,
    concurrency: 2,
    dbFile,
    recheckMs: 60_000,
    policy: [{ repositories: ['prod/**'], blockSeverity: 'MEDIUM', onUnscanned: 'allow' }],
    warn: (m) => assert.fail(m),
  });
  try {
    const manifest = blob(image);
    const m = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)])
      await registry.monolithicUpload('prod/app', d as Digest, Readable.from(blob(d)));
    await registry.putManifest('prod/app', image, 'application/vnd.oci.image.manifest.v1+json', manifest);
    // A signature-like artifact: an image manifest without filesystem layers.
    const empty = Buffer.from('{}');
    await registry.monolithicUpload('prod/app', digestOf(empty), Readable.from(empty));
    const sig = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(empty), size: 2 },
        layers: [],
      }),
    );
    const sigDigest = (await registry.putManifest('prod/app', 'sig', undefined, sig)).digest;
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: image,
            size: manifest.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    );
    const indexDigest = (await registry.putManifest('prod/app', 'v1', INDEX, index)).digest;
    await scanning.pushed('prod/app', sigDigest, sig, undefined);
    await scanning.pushed('prod/app', indexDigest, index, INDEX);
    await scanning.scanner!.idle();

    const summary = await scanning.scanSummary([image, indexDigest, sigDigest, digestOf('none')]);
    assert.deepEqual([...summary.keys()].sort(), [image, sigDigest].sort(), 'rows only for what was scanned');
    assert.deepEqual(summary.get(image)!.counts, { CRITICAL: 0, HIGH: 0, MEDIUM: 1, LOW: 0, UNKNOWN: 0 });
    assert.equal(summary.get(sigDigest)!.state, 'skipped');

    const rep = (await scanning.report('prod/app', indexDigest)) as {
      manifests: { digest: string; scan: { state: string; summary: Record<string, number> } }[];
    };
    assert.deepEqual(
      rep.manifests.map((x) => [x.digest, x.scan.state, x.scan.summary.MEDIUM]),
      [[image, 'done', 1]],
    );
    const indexRecord = await registry.statManifest('prod/app', 'v1');
    await assert.rejects(
      scanning.gate!.check('prod/app', indexRecord),
      (e: OciError) => e.code === 'DENIED' && /has 1 finding at or above MEDIUM/.test(e.message),
    );
    await scanning.gate!.check('prod/app', await registry.statManifest('prod/app', 'sig'));

    // A second source: the kept packages are matched again (no layer read), the generation moves.
    const before = summary.get(image)!.generation;
    importRecords(dbFile, 'two', [record('DEBIAN-CVE-2099-0001', 'bash', 'high')]);
    scanning.scanner!.kick();
    await scanning.scanner!.idle();
    assert.equal(scanning.scanner!.counts.rematched, 1);
    assert.equal(scanning.scanner!.counts.scanned, 1);
    const again = (await scanning.scanSummary([image])).get(image)!;
    assert.notEqual(again.generation, before);
    assert.deepEqual(again.counts, { CRITICAL: 0, HIGH: 1, MEDIUM: 1, LOW: 0, UNKNOWN: 0 });
  } finally {
    await scanning.close();
    await server.close();
  }
});
