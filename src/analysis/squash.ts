// `kura flatten`: an image squashed to one layer (its final filesystem), as `crane flatten` does.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Artifact } from '../oci/artifact.js';
import { OciError } from '../oci/errors.js';
import { isIndex, openImage } from '../oci/image.js';
import { appendLayers, rebuildImage } from '../oci/mutate.js';
import { removeTemp, trackTemp } from '../oci/temps.js';
import { flatten } from './flatten.js';

export interface SquashOptions {
  /** The config's and the history entry's `created` (default SOURCE_DATE_EPOCH when set, else the image's own). */
  created?: Date | string;
  onWarning?: (m: string) => void;
}

/**
 * The image with all its layers replaced by one: the flattened filesystem (whiteouts applied), one history
 * entry `kura flatten DIGEST`, the config otherwise kept. The tar is written to a temporary file first.
 */
export async function squashImage(a: Artifact, opts: SquashOptions = {}): Promise<Artifact> {
  if (isIndex(a))
    throw new OciError('MANIFEST_INVALID', `${a.descriptor.digest} is an index: pick one with --platform`);
  const img = openImage(a);
  const config = await img.config();
  const tmp = join(tmpdir(), `kura-flatten-${randomBytes(6).toString('hex')}.tar`);
  trackTemp(tmp);
  try {
    await flatten(
      (await img.layers()).map((l) => l.uncompressed),
      createWriteStream(tmp, { flags: 'wx' }),
      opts.onWarning,
    );
    const empty = await rebuildImage(a, (d) => {
      d.manifest.layers = [];
      d.config.rootfs.diff_ids = [];
      d.config.history = [];
    });
    const created = opts.created ?? (process.env.SOURCE_DATE_EPOCH ? undefined : config.created);
    return await appendLayers(
      empty,
      [
        {
          tar: async () => createReadStream(tmp),
          history: { created_by: `kura flatten ${a.descriptor.digest}`, comment: 'flattened by kura' },
        },
      ],
      created ? { created } : {},
    );
  } finally {
    await removeTemp(tmp);
  }
}
