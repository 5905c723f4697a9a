// The graph under a manifest (child manifests loaded, blobs as descriptors), as one copy moves it.
import type { Artifact, Descriptor } from './artifact.js';
import { readSmallBlob } from './blob.js';
import type { Digest } from './digest.js';
import { manifestChildren, parseManifest } from './manifest.js';
import { isManifestMediaType } from './mediatypes.js';

/** What a manifest or index of media type `mediaType` references (foreign layers with `urls` are skipped). */
export function children(manifest: Buffer, mediaType: string, what = `${mediaType} manifest`): Descriptor[] {
  return manifestChildren(parseManifest(manifest, mediaType, { what }));
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
  const what = `${a.descriptor.mediaType} ${a.descriptor.digest}`;
  for (const c of children(a.manifest, a.descriptor.mediaType, what)) {
    if (!isManifestMediaType(c.mediaType)) node.blobs.push(c);
    else node.manifests.push(await loadTree({ ...a, descriptor: c, manifest: await readSmallBlob(a.blobs, c) }));
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

/** A descriptor without the annotations a medium uses for naming (ref.name). */
export function stripName(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  if (!annotations) return rest;
  const { 'org.opencontainers.image.ref.name': _n, 'io.containerd.image.name': _c, ...others } = annotations;
  return Object.keys(others).length ? { ...rest, annotations: others } : rest;
}
