/** A rootfs tarball made into a one-layer image (docker import). */
import { createRequire } from 'node:module';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Artifact, Descriptor, Platform } from '../../oci/artifact.js';
import { decompress } from '../../oci/compression.js';
import type { ContainerConfig, ImageConfig } from '../../oci/config.js';
import { digestOf } from '../../oci/digest.js';
import { MediaTypes } from '../../oci/mediatypes.js';
import { measuring } from '../../oci/verify.js';
import { lazy } from '../../oci/lazy.js';

const require = createRequire(import.meta.url);
const zlib = lazy(() => require('node:zlib') as typeof import('node:zlib'));

export interface ImportOptions {
  platform: Platform;
  /** The history entry's comment (docker import's --message); default "Imported from SOURCE". */
  message?: string;
  /** What the source was, for the default message (a file name, or "-"). */
  source: string;
  /** Runtime settings (from --change). */
  config?: ContainerConfig;
  /** The image's creation time (default now). */
  created?: Date;
}

/**
 * An image of one layer from a root filesystem tar (plain, gzip or zstd), as `docker import` makes
 * one: the layer is streamed through gzip into a temporary file (its diff_id hashed on the way), the
 * config and manifest are written around it. `cleanup` removes the temporary file.
 */
export async function importRootfs(
  input: Readable,
  o: ImportOptions,
): Promise<{ artifact: Artifact; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'kura-import-'));
  const file = join(dir, 'layer.tar.gz');
  try {
    const { stream } = await decompress(input);
    const plain = measuring();
    const packed = measuring();
    await pipeline(
      stream,
      plain.t,
      zlib().createGzip(),
      packed.t,
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
    );
    const diffId = plain.result().digest;
    const layer: Descriptor = { mediaType: MediaTypes.OciLayerGzip, ...packed.result() };
    const created = (o.created ?? new Date()).toISOString();
    const config: ImageConfig = {
      created,
      architecture: o.platform.architecture,
      os: o.platform.os,
      ...(o.platform.variant ? { variant: o.platform.variant } : {}),
      ...(o.config && Object.keys(o.config).length ? { config: o.config } : {}),
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, comment: o.message ?? `Imported from ${o.source}` }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = {
      mediaType: MediaTypes.OciConfig,
      digest: digestOf(configBytes),
      size: configBytes.length,
    };
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: configDesc, layers: [layer] }),
    );
    const artifact: Artifact = {
      descriptor: { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length },
      manifest,
      blobs: {
        open: async (d) => {
          if (d.digest === layer.digest) return createReadStream(file);
          if (d.digest === configDesc.digest) return Readable.from([configBytes]);
          throw new Error(`the imported image has no blob ${d.digest}`);
        },
      },
    };
    return { artifact, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
