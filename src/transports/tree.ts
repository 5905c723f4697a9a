import type { Artifact, BlobReader, Descriptor } from '../oci/artifact.js';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { isImageManifestMediaType, isIndexMediaType } from '../oci/mediatypes.js';
import { verifying } from '../oci/verify.js';

/** Manifests and configs are read whole; nothing bigger than this is believed to be one. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

export function isManifestMediaType(mt: string): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}

/** What a manifest or index references, as descriptors (foreign layers with `urls` are skipped). */
export function children(manifest: Buffer): Descriptor[] {
  const doc = JSON.parse(manifest.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (Array.isArray(doc.manifests)) return doc.manifests;
  return [...(doc.config ? [doc.config] : []), ...(doc.layers ?? []).filter((l) => !l.urls?.length)];
}

/** Reads a small blob (manifest, config) whole, verified against its descriptor. */
export async function readSmallBlob(from: BlobReader, d: Descriptor, limit = MANIFEST_LIMIT): Promise<Buffer> {
  if (d.size > limit) throw new OciError('SIZE_INVALID', `${d.digest} is ${d.size} bytes, more than the ${limit} a manifest or config may have`);
  const chunks: Buffer[] = [];
  const v = verifying(d);
  const src = await from.open(d);
  src.on('error', (e) => v.destroy(e));
  for await (const c of src.pipe(v)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A manifest with its child manifests loaded: the whole graph one copy moves. */
export interface TreeNode {
  descriptor: Descriptor;
  manifest: Buffer;
  /** Child manifests (of an index), loaded. */
  manifests: TreeNode[];
  /** Config and layers (of an image manifest), or non-manifest entries of an index. */
  blobs: Descriptor[];
}

/** Loads every manifest under an artifact (children verified by digest); blobs stay descriptors. */
export async function loadTree(a: Pick<Artifact, 'descriptor' | 'manifest' | 'blobs'>): Promise<TreeNode> {
  const node: TreeNode = { descriptor: a.descriptor, manifest: a.manifest, manifests: [], blobs: [] };
  for (const c of children(a.manifest)) {
    if (isManifestMediaType(c.mediaType)) node.manifests.push(await loadTree({ descriptor: c, manifest: await readSmallBlob(a.blobs, c), blobs: a.blobs }));
    else node.blobs.push(c);
  }
  return node;
}

/** Every distinct blob of a tree, first occurrence order. */
export function treeBlobs(node: TreeNode, seen = new Set<Digest>(), out: Descriptor[] = []): Descriptor[] {
  for (const b of node.blobs) {
    if (!seen.has(b.digest)) {
      seen.add(b.digest);
      out.push(b);
    }
  }
  for (const m of node.manifests) treeBlobs(m, seen, out);
  return out;
}

/** Child manifests before their parents (the order a registry accepts them in). */
export function treeManifests(node: TreeNode, out: TreeNode[] = []): TreeNode[] {
  for (const m of node.manifests) treeManifests(m, out);
  if (!out.some((x) => x.descriptor.digest === node.descriptor.digest)) out.push(node);
  return out;
}
