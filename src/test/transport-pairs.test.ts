import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './testkit.js';
import { tempDirs } from './tempdirs.js';
import { canClose, type Artifact, type Sink, type Source } from '../oci/artifact.js';
import { openImage } from '../oci/image.js';
import { randomImage } from '../oci/random.js';
import { validateArtifact } from '../oci/validate.js';
import { DockerArchive } from '../transports/archive/index.js';
import { DockerArchiveWriter } from '../transports/archive/index.js';
import { LocalStore } from '../transports/local-store/index.js';
import { MemoryImages } from '../transports/memory.js';
import { OciArchive } from '../transports/archive/index.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient } from '../transports/registry/index.js';

/**
 * Every pair of media, both ways: an image written to A is copied from A to B and read back from B
 * whole and valid, with the same config and layer contents. (Each medium's own round trip is its
 * conformance suite; this checks that what one writes, every other reads.)
 */
interface Medium {
  name: string;
  /** A fresh sink; `reader` reopens what it wrote (archives are written whole on close). */
  sink(): { sink: Sink; reader: () => Promise<Source>; ref: string };
}

const dir = tempDirs('kura-pairs-')();
let server: TestServer;
let n = 0;
const fresh = (what: string) => join(dir, `${what}-${n++}`);

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const MEDIA: Medium[] = [
  {
    name: 'memory',
    sink: () => {
      const m = new MemoryImages();
      return { sink: m, reader: async () => m, ref: 'v1' };
    },
  },
  {
    name: 'oci layout',
    sink: () => {
      const p = fresh('layout');
      return { sink: new OciLayout(p), reader: async () => new OciLayout(p), ref: 'v1' };
    },
  },
  {
    name: 'oci archive',
    sink: () => {
      const p = fresh('oci.tar');
      return { sink: new OciArchive(p), reader: async () => new OciArchive(p), ref: 'v1' };
    },
  },
  {
    name: 'docker archive',
    sink: () => {
      const p = fresh('docker.tar');
      return {
        sink: new DockerArchiveWriter(p),
        reader: async () => new DockerArchive(p),
        ref: 'example.com/pairs/app:v1',
      };
    },
  },
  {
    name: 'local store',
    sink: () => {
      const p = fresh('store');
      return { sink: new LocalStore(p), reader: async () => new LocalStore(p), ref: 'example.com/pairs/app:v1' };
    },
  },
  {
    name: 'registry',
    sink: () => {
      const repo = new RegistryClient({ registry: new URL(server.url).host }).repository(`pairs/r${n++}`);
      return { sink: repo, reader: async () => repo, ref: 'v1' };
    },
  },
];

async function writeTo(m: Medium, a: Artifact): Promise<Artifact> {
  const { sink, reader, ref } = m.sink();
  await sink.write(ref, a);
  if (canClose(sink)) await sink.close();
  return (await reader()).get(ref);
}

async function contents(a: Artifact): Promise<{ config: string; diffIds: string[] }> {
  const img = openImage(a);
  const config = await img.config();
  return { config: (await img.rawConfig()).toString('utf8'), diffIds: config.rootfs.diff_ids };
}

test('every medium reads what every other medium wrote', async (t) => {
  const src = await randomImage({ seed: 77, layers: 2 });
  const want = await contents(src);
  // One subtest per pair, so that every failing pair is reported, not only the first.
  for (const a of MEDIA) {
    const inA = await writeTo(a, src);
    for (const b of MEDIA) {
      await t.test(`${a.name} → ${b.name}`, async () => {
        const inB = await writeTo(b, inA);
        await validateArtifact(inB);
        assert.deepEqual(await contents(inB), want);
      });
    }
  }
});
