import type { MetadataStore } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../storage/types.js';
import type { Locks } from './lock.js';

/** Digests per page when the GC compares the storage listing with the metadata. */
const GC_PAGE = 1000;

/**
 * The last step of a collection (README.md in this folder): the storage listing compared with the
 * metadata, a page of digests at a time. Bytes no row records and written before `cutoff` are
 * deleted (or only listed on a dry run), each under its digest's lock, which every writer of bytes
 * and rows holds, so nothing being stored right now is taken for an orphan.
 */
export async function collectUnrecorded(
  blobs: BlobStore,
  meta: MetadataStore,
  digestLock: Locks,
  cutoff: number,
  dryRun: boolean,
): Promise<{ digest: Digest; size: number }[]> {
  const found: { digest: Digest; size: number }[] = [];
  const orphanNow = async (d: Digest): Promise<number | null> => {
    if ((await meta.blobs.getGlobal(d)) !== null) return null;
    const at = await blobs.writtenAt(d);
    return at === null || at >= cutoff ? null : await blobs.stat(d);
  };
  const check = async (page: Digest[]) => {
    const recorded = await meta.gc.recorded(page);
    for (const d of page) {
      if (recorded.has(d)) continue;
      await digestLock.run(d, async () => {
        const size = await orphanNow(d);
        if (size === null) return;
        if (!dryRun) await blobs.delete(d);
        found.push({ digest: d, size });
      });
    }
  };
  let page: Digest[] = [];
  for await (const d of blobs.list()) {
    page.push(d);
    if (page.length >= GC_PAGE) {
      await check(page);
      page = [];
    }
  }
  if (page.length > 0) await check(page);
  return found;
}
