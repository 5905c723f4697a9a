import type { Command } from 'commander';
import type { IndexCache } from '../analysis/image-index.js';
import type { ResolvedImage } from '../analysis/resolve.js';
import { openImage, remoteOptions, type ImageOptions } from './image-options.js';

/** Options of the commands that look inside an image (layers, ls, cat, cp, diff, lint). */
export interface AnalysisOptions extends ImageOptions {
  /** false with --no-cache. */
  cache?: boolean;
}

/** remoteOptions plus `--platform` and `--no-cache`. */
export function analysisOptions(cmd: Command): Command {
  return remoteOptions(cmd)
    .option('--platform <os/arch[/variant]>', 'the image of an index (default: this machine)')
    .option('--no-cache', 'read every layer, ignoring (and not writing) the per-layer index cache of the local store');
}

/** The per-layer index cache: the local store's (--store, $KURA_STORE or the default), unless --no-cache. */
export async function indexCache(opts: AnalysisOptions): Promise<IndexCache | undefined> {
  if (opts.cache === false) return undefined;
  // The cache alone, not the whole store (a cached `kura layers` loads no more than it needs).
  const [{ defaultStoreDir }, { IndexCacheDir }] = await Promise.all([
    import('../transports/local-store/store-dir.js'),
    import('../transports/local-store/index-cache.js'),
  ]);
  return new IndexCacheDir(opts.store ?? defaultStoreDir(process.env));
}

/** Opens LOCATION and resolves the image to look at. */
export async function analysedImage(location: string, opts: AnalysisOptions): Promise<ResolvedImage> {
  const { root, platform } = await openImage(location, opts);
  const { resolveImage } = await import('../analysis/resolve.js');
  return resolveImage(root, platform);
}

export const warnLine = (m: string) => process.stderr.write(`kura: warning: ${m}\n`);
