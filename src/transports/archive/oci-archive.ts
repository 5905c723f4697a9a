/** oci-archive (OciArchive): an OCI layout in a tar, read in place and written whole on close. */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Artifact, Closer, Descriptor, Sink, Source, TagLister, WriteOptions } from '../../oci/artifact.js';
import { isDigest } from '../../oci/digest.js';
import { removeTemp } from '../../oci/temps.js';
import { stagingDir, tarDirectory } from './file.js';
import { parseIndexJson } from '../layout/index-json.js';
import { OciLayout } from '../layout/oci-layout.js';
import { ArchiveError, TarIndex } from './tar-index.js';
import { TarLayout, blobPath } from '../layout/tar-layout.js';
import { children } from '../../oci/tree.js';
import { isManifestMediaType } from '../../oci/mediatypes.js';

/** Copies the OCI layout inside an archive (oci-layout, index.json, blobs/) into a directory. */
async function unpackLayout(tar: TarIndex, dir: string): Promise<void> {
  for (const name of tar.names()) {
    if (name !== 'oci-layout' && name !== 'index.json' && !name.startsWith('blobs/')) continue;
    if (!tar.find(name)) continue;
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await pipeline(tar.open(name), createWriteStream(join(dir, name), { flags: 'wx' }));
  }
}

/** Removes blobs no index.json entry reaches (left by a replaced tag), so the archive does not grow forever. */
async function pruneLayout(dir: string): Promise<void> {
  const idx = parseIndexJson(await readFile(join(dir, 'index.json')), join(dir, 'index.json'));
  const keep = new Set<string>();
  const queue = [...idx.manifests];
  for (let d = queue.shift(); d; d = queue.shift()) {
    if (!isDigest(d.digest) || keep.has(d.digest)) continue;
    keep.add(d.digest);
    const path = join(dir, blobPath(d.digest));
    if (isManifestMediaType(d.mediaType) && existsSync(path))
      queue.push(...children(await readFile(path), d.mediaType));
  }
  for (const alg of ['sha256', 'sha512']) {
    const sub = join(dir, 'blobs', alg);
    if (!existsSync(sub)) continue;
    for (const f of await readdir(sub)) if (!keep.has(`${alg}:${f}`)) await rm(join(sub, f), { force: true });
  }
}

/**
 * skopeo's `oci-archive:FILE[:TAG]`: a tar of an OCI image layout. Reads in place; writes stage into
 * a layout directory next to FILE (starting from FILE's images, so several writes add tags) and
 * `close()` replaces FILE atomically. After a failed write, `close()` discards everything and
 * leaves FILE as it was.
 */
export class OciArchive implements Source, Sink, TagLister, Closer {
  /** Promises, memoised before any await, so concurrent calls open one tar and stage into one directory. */
  private tar?: Promise<TarIndex>;
  private staging?: Promise<OciLayout>;
  private failed = false;

  constructor(readonly file: string) {}

  /** FILE, read in place (opened once, however many calls race). */
  private async tarLayout(): Promise<TarLayout<TarIndex>> {
    const p = (this.tar ??= TarIndex.open(this.file));
    p.catch(() => {
      if (this.tar === p) this.tar = undefined;
    });
    const layout = new TarLayout(await p);
    if (!layout.isLayout())
      throw new ArchiveError(
        `${this.file} has no index.json: it is not an oci-archive (a docker-archive? use docker-archive:${this.file})`,
      );
    return layout;
  }

  private async reader(): Promise<TarLayout | OciLayout> {
    return this.staging ?? this.tarLayout();
  }

  /** The layout reads go to: the staging directory once something was written, else FILE in place (for graphs). */
  view(): Promise<TarLayout | OciLayout> {
    return this.reader();
  }

  /** A layout directory holding FILE's images (if any), to which writes go; made once. */
  private async stage(): Promise<OciLayout> {
    const dir = await stagingDir(this.file);
    try {
      if (existsSync(this.file)) {
        const layout = await this.tarLayout().catch((e: Error) => {
          throw new ArchiveError(`cannot add to ${this.file}: ${e.message}. Remove the file or write to another one`);
        });
        await unpackLayout(layout.tar, dir);
      }
      return new OciLayout(dir);
    } catch (e) {
      await removeTemp(dir);
      throw e;
    }
  }

  async get(ref: string): Promise<Artifact> {
    return (await this.reader()).get(ref);
  }

  async tags(): Promise<string[]> {
    return (await this.reader()).tags();
  }

  async write(ref: string, artifact: Artifact, opts?: WriteOptions): Promise<Descriptor> {
    // `??=` on the promise, not on its value: an `await` before the assignment would let concurrent
    // writes each stage a directory, and close() would keep only the last.
    const p = (this.staging ??= this.stage());
    p.catch(() => {
      if (this.staging === p) this.staging = undefined;
    });
    const staging = await p;
    try {
      return await staging.write(ref, artifact, opts);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  /** Writes FILE (when something was written and nothing failed) and removes temporary files. */
  async close(): Promise<void> {
    const stagingP = this.staging;
    const tarP = this.tar;
    this.staging = undefined;
    this.tar = undefined;
    await (await tarP?.catch(() => undefined))?.close();
    const staging = await stagingP?.catch(() => undefined);
    if (!staging) return;
    try {
      if (!this.failed) {
        await pruneLayout(staging.dir);
        await tarDirectory(staging.dir, this.file, { first: ['oci-layout', 'index.json'] });
      }
    } finally {
      this.failed = false;
      await removeTemp(staging.dir);
    }
  }
}
