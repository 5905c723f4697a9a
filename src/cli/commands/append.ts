/** `kura append BASE --layer TAR|DIR… -t DEST`: layers added on top of an image, as crane append and ko do. */
import { statSync, createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { collect } from '../options.js';
import { editOptions, readSource, writeResult, type WriteFlags } from './mutate.js';

interface AppendFlags extends WriteFlags {
  layer: string[];
  prefix?: string;
  compress: string;
}

/** `kura append`. */
export function registerAppend(program: Command): void {
  const cmd = program
    .command('append <base>')
    .description('add layers to an image: tar files (plain, gzip, zstd) as they are, directories made into a tar')
    .requiredOption(
      '-f, --layer <tar|dir>',
      'a layer: a tar file or a directory (repeatable, bottom first)',
      collect,
      [],
    )
    .option('--prefix <path>', "where a directory layer's contents go in the image (default /)")
    .option('--compress <gzip|zstd|none>', 'how the new layers are compressed', 'gzip');
  editOptions(cmd).action(async (base: string, o: AppendFlags) => {
    if (!['gzip', 'zstd', 'none'].includes(o.compress)) throw new UsageError('--compress takes gzip, zstd or none');
    const [{ appendLayers }, { decompress }, { dirLayer }] = await Promise.all([
      import('../../oci/mutate.js'),
      import('../../oci/compression.js'),
      import('../../transports/dir-layer.js'),
    ]);
    const epoch = process.env.SOURCE_DATE_EPOCH;
    const mtime = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : undefined;
    const layers = o.layer.map((path) => {
      let dir: boolean;
      try {
        dir = statSync(path).isDirectory();
      } catch {
        throw new UsageError(`--layer ${path}: no such file or directory`);
      }
      const tar = dir
        ? async () => dirLayer(path, { ...(mtime ? { mtime } : {}), ...(o.prefix ? { prefix: o.prefix } : {}) })
        : async () => (await decompress(createReadStream(path))).stream;
      return {
        tar,
        compression: o.compress as 'gzip' | 'zstd' | 'none',
        history: { created_by: `kura append ${dir ? 'directory' : 'file'} ${path}`, comment: 'appended by kura' },
      };
    });
    const a = await appendLayers(await readSource(base, o), layers);
    await writeResult(a, o);
  });
}
