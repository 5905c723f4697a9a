import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { digestOf, digestHex, type Digest } from '../oci/digest.js';
import { FsBlobStore } from '../storage/fs.js';
import { KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';

const execFileP = promisify(execFile);
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const SHORT_GRACE = ['--gc-grace', '0s', '--gc-allow-short-grace', 'true'];

async function fsck(dataDir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [KURA_MAIN, 'fsck', '--data', dataDir]);
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

async function pushBlob(s: KuraProcess, repo: string, b: Buffer): Promise<void> {
  const r = await fetch(`${s.url}/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, {
    method: 'POST',
    body: new Uint8Array(b),
  });
  assert.equal(r.status, 201);
}

function manifest(config: Buffer, layers: Buffer[]): Buffer {
  const d = (b: Buffer, mediaType: string) => ({ mediaType, digest: digestOf(b), size: b.length });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI,
      config: d(config, 'application/vnd.oci.image.config.v1+json'),
      layers: layers.map((l) => d(l, 'application/vnd.oci.image.layer.v1.tar')),
    }),
  );
}

const putManifest = (s: KuraProcess, repo: string, tag: string, m: Buffer) =>
  fetch(`${s.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: new Uint8Array(m),
    headers: { 'content-type': OCI },
  });

test(
  'churn with refused pushes and a SIGKILL between bytes and row: one GC cycle later kura fsck is clean without ' +
    '--repair',
  async () => {
    let server = await startKura({ args: ['--gc-interval', '0', ...SHORT_GRACE] });
    const dataDir = server.dataDir;
    const kept = new Map<string, Buffer>();
    for (let i = 0; i < 20; i++) {
      const repo = `churn/r${i % 4}`;
      const config = Buffer.from(JSON.stringify({ i, nonce: randomBytes(4).toString('hex') }));
      const layer = randomBytes(3000);
      await pushBlob(server, repo, config);
      await pushBlob(server, repo, layer);
      // A push whose manifest names a layer never uploaded: refused, and (since this fix) no bytes kept.
      const refused = await putManifest(server, repo, `bad${i}`, manifest(config, [layer, randomBytes(100)]));
      assert.equal(refused.status, 400);
      const good = manifest(config, [layer]);
      assert.equal((await putManifest(server, repo, `t${i}`, good)).status, 201);
      if (i % 3 === 0)
        assert.equal((await fetch(`${server.url}/v2/${repo}/manifests/t${i}`, { method: 'DELETE' })).status, 202);
      else kept.set(`${repo}:t${i}`, good);
    }
    // Uploads in flight when the server is SIGKILLed.
    const inflight = Array.from({ length: 6 }, () => {
      const b = randomBytes(400_000);
      return fetch(`${server.url}/v2/churn/killed/blobs/uploads/?digest=${digestOf(b)}`, {
        method: 'POST',
        body: new Uint8Array(b),
      }).catch(() => null);
    });
    await new Promise((r) => setTimeout(r, 5));
    await server.kill();
    await Promise.all(inflight);

    // What a SIGKILL after the bytes' rename and before the row's commit leaves, placed exactly (the
    // kill above cannot be timed to that instant): committed bytes no row records, written an hour ago.
    const store = new FsBlobStore(dataDir);
    const leftovers: Digest[] = [];
    for (let i = 0; i < 3; i++) {
      const b = randomBytes(1000 + i);
      const d = digestOf(b);
      await store.put(d, b);
      const old = new Date(Date.now() - 3_600_000);
      await utimes(join(dataDir, 'blobs', 'sha256', digestHex(d).slice(0, 2), digestHex(d)), old, old);
      leftovers.push(d);
    }
    const dirty = await fsck(dataDir);
    assert.notEqual(dirty.code, 0, `fsck must see the orphans before a GC: ${dirty.out}`);
    for (const d of leftovers) assert.ok(dirty.out.includes(d), dirty.out);

    // One collection cycle, then stop and check.
    server = await startKura({ dataDir, args: ['--gc-interval', '100ms', ...SHORT_GRACE] });
    await new Promise((r) => setTimeout(r, 1500));
    for (const [ref, m] of kept) {
      const [repo, tag] = ref.split(':');
      const r = await fetch(`${server.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: OCI } });
      assert.equal(r.status, 200, `${ref} must survive`);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), m);
    }
    await server.stop();
    for (const d of leftovers) assert.equal(await store.stat(d), null, `${d} collected`);
    const clean = await fsck(dataDir);
    assert.equal(clean.code, 0, clean.out);
    assert.match(clean.out, /clean/);
  },
);
