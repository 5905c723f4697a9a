/**
 * Run by append.test.ts in a process of its own: appends a streamed 256 MiB incompressible layer and prints, as
 * JSON, the peak RSS, the sha256 of the tar bytes as they were produced, and what the artifact says and serves.
 * Not shipped (package.json "files" leaves out *.child.*).
 */
import { createHash, createCipheriv } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pack } from 'tar-stream';
import { openImage } from './image.js';
import { appendLayers } from './mutate.js';
import { randomImage } from './random.js';

const SIZE = 256 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const tarHash = createHash('sha256');
let layerBytes = 0;

/** A tar of one 256 MiB file of AES-CTR keystream (incompressible, cheap to make), hashed as it is read. */
function tarStream(): Promise<Readable> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 1), Buffer.alloc(16, 2));
  const zeros = Buffer.alloc(CHUNK);
  const p = pack();
  const entry = p.entry({ name: 'random.bin', size: SIZE }, (e) => {
    if (e) p.destroy(e);
    else p.finalize();
  });
  let sent = 0;
  const write = () => {
    while (sent < SIZE) {
      sent += CHUNK;
      if (!entry.write(cipher.update(zeros))) return void entry.once('drain', write);
    }
    entry.end(() => {});
  };
  write();
  const counted = new Transform({
    transform(c: Buffer, _e, cb) {
      tarHash.update(c);
      layerBytes += c.length;
      cb(null, c);
    },
  });
  p.on('error', (e) => counted.destroy(e));
  return Promise.resolve((p as unknown as Readable).pipe(counted));
}

const img = await appendLayers(await randomImage({ seed: 5, layers: 1 }), [{ tar: tarStream }]);
const view = openImage(img);
const layer = view.manifest.layers.at(-1)!;
const blobHash = createHash('sha256');
let blobSize = 0;
for await (const c of await img.blobs.open(layer)) {
  blobHash.update(c as Buffer);
  blobSize += (c as Buffer).length;
}
process.stdout.write(
  JSON.stringify({
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    layerBytes,
    tarDigest: `sha256:${tarHash.digest('hex')}`,
    diffId: (await view.config()).rootfs.diff_ids.at(-1),
    blob: { digest: `sha256:${blobHash.digest('hex')}`, size: blobSize },
    layer: { digest: layer.digest, size: layer.size },
  }),
);
