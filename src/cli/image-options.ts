/** The options of the commands that read an image (inspect, history, export, …): where it is and how to reach it. */
import type { Command } from 'commander';
import type { InspectNames } from '../analysis/inspect.js';
import type { Artifact, Platform } from '../oci/artifact.js';
import { isDigest } from '../oci/digest.js';
import { parsePlatform } from '../oci/platform.js';
import { familiar } from '../oci/familiar.js';
import type { Location } from '../transports/locations.js';
import { locationOptions, outputFlags, registryFlags, type RegistryFlags } from './options.js';

/** Options every image-reading command takes. */
export interface ImageOptions extends RegistryFlags {
  /** The local image store (bare names are looked up there first, as docker looks in its daemon). */
  store?: string;
  json?: boolean;
  platform?: string;
}

/** The registry flags, `--json`, and (for commands that read images) `--store DIR`. */
export function remoteOptions(cmd: Command, o: { store?: boolean; mirror?: boolean } = {}): Command {
  registryFlags(cmd, { mirror: o.mirror });
  if (o.store !== false) cmd.option('--store <dir>', 'the local image store, where bare names are looked up first');
  return outputFlags(cmd);
}

/** The location and what it names (an image or an index). */
export async function openImage(
  location: string,
  opts: ImageOptions,
  preferLocal = true,
): Promise<{ loc: Location; root: Artifact; platform?: Platform }> {
  const { openLocation } = await import('../transports/locations.js');
  const loc = await openLocation(location, { ...locationOptions(opts), store: opts.store, preferLocal });
  const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
  return {
    loc,
    root: await (await import('../transports/locations.js')).readImage(loc),
    ...(platform ? { platform } : {}),
  };
}

/** The unpacked layer sizes the local store keeps for an image of it (undefined for other locations). */
export async function storedLayerSizes(loc: Location): Promise<Record<string, number> | undefined> {
  const { LocalStore } = await import('../transports/local-store/index.js');
  return loc.medium instanceof LocalStore ? (await loc.medium.find(loc.ref))?.layerSizes : undefined;
}

/** RepoTags and RepoDigests for `kura inspect`: the name typed, and the name with the digest of what it names. */
export async function inspectNames(loc: Location, root: Artifact): Promise<InspectNames> {
  const { LocalStore } = await import('../transports/local-store/index.js');
  if (loc.medium instanceof LocalStore) {
    const rec = await loc.medium.find(loc.ref);
    return { repoTags: (rec?.names ?? []).map(familiar), repoDigests: (rec?.repoDigests ?? []).map(familiar) };
  }
  if (loc.image) {
    const name = familiar(`${loc.image.registry}/${loc.image.repository}`);
    return {
      repoTags: loc.image.tag ? [`${name}:${loc.image.tag}`] : [],
      repoDigests: [`${name}@${root.descriptor.digest}`],
    };
  }
  return { repoTags: isDigest(loc.ref) ? [] : [loc.ref], repoDigests: [] };
}
