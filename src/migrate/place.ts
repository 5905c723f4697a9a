/** One blob into a repository during an import or a migration: kept when there, mounted when seen, else uploaded. */
import type { Digest } from '../oci/digest.js';
import type { Readable } from 'node:stream';
import type { Registry } from '../registry/registry.js';

/** What both summaries count of blobs. */
export interface BlobCounts {
  blobs: number;
  bytes: number;
  mounted: number;
  skipped: number;
}

/**
 * Puts `digest` into `repo`: skipped when the repository already has it (a re-run), mounted from the
 * repository it went into earlier in this run (`placed`), else uploaded from `open()`. The upload
 * service hashes the stream and refuses bytes that do not match the digest (DIGEST_INVALID).
 */
export async function placeBlob(
  registry: Registry,
  repo: string,
  digest: Digest,
  s: BlobCounts,
  placed: Map<Digest, string>,
  open: () => Promise<{ size: number; stream: Readable }>,
): Promise<void> {
  const present = await registry.statBlob(repo, digest).then(
    () => true,
    () => false,
  );
  if (present) {
    s.skipped++;
    placed.set(digest, repo);
    return;
  }
  const from = placed.get(digest);
  if (from && (await registry.mountBlob(repo, from, digest))) {
    s.mounted++;
    return;
  }
  const { size, stream } = await open();
  await registry.monolithicUpload(repo, digest, stream, size);
  placed.set(digest, repo);
  s.blobs++;
  s.bytes += size;
}
