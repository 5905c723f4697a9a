/** Where signatures, attestations and SBOMs of a location are kept: its graph store (loaded by actions). */
// The files themselves, not the folders' index.ts: a command loads only what it uses (start-up).
import { formatImageReference } from '../oci/imageref.js';
import { OciLayout } from '../transports/layout/oci-layout.js';
import { RegistryRepository } from '../transports/registry/repository.js';
import { OciArchive } from '../transports/archive/oci-archive.js';
import { ArchiveGraphStore, LayoutGraphStore, RegistryGraphStore, type GraphStore } from '../signing/store.js';
import { openLocation, type Location, type LocationOptions } from '../transports/locations.js';
import type { GraphOptions } from './signing-options.js';

/**
 * A location's graph store: registries and OCI layouts hold signatures; oci-archives too with `archives` (copies and
 * reads: an archive's writes are kept only when it is closed); docker-archives and the local store do not.
 */
export function graphStoreOf(loc: Location, opts: { archives?: boolean } = {}): GraphStore | undefined {
  if (loc.medium instanceof RegistryRepository) return new RegistryGraphStore(loc.medium);
  if (loc.medium instanceof OciLayout) return new LayoutGraphStore(loc.medium);
  if (opts.archives && loc.medium instanceof OciArchive) return new ArchiveGraphStore(loc.medium);
  return undefined;
}

/** Opens IMAGE (a registry reference, `docker://REF` or `oci:DIR[:TAG]`) as a graph store and the ref inside it. */
export async function openGraph(
  image: string,
  opts: GraphOptions & Pick<LocationOptions, 'forWriting'> = {},
): Promise<{ loc: Location; store: GraphStore; reference: string }> {
  const loc = await openLocation(image, {
    creds: opts.creds,
    plainHttp: opts.plainHttp,
    insecure: opts.insecure,
    forWriting: opts.forWriting,
  });
  const store = graphStoreOf(loc, { archives: !opts.forWriting });
  if (!store)
    throw new Error(
      `${loc.display}: signatures are kept in registries, OCI layouts and oci-archives; give docker://REF, ` +
        `oci:DIR[:TAG] or oci-archive:FILE[:TAG]`,
    );
  return { loc, store, reference: loc.image ? formatImageReference(loc.image) : loc.display };
}
