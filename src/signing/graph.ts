import type { Artifact, Descriptor } from '../oci/artifact.js';
import type { Digest } from '../oci/digest.js';
import { parseArtifactManifest, type ParsedManifest } from '../oci/manifest.js';
import { SigningTypes } from './formats.js';
import { cosignTag, type GraphStore } from './store.js';

/** What a node of an image's graph is. */
export type NodeKind = 'index' | 'image' | 'signature' | 'attestation' | 'sbom' | 'referrer';

/** A manifest in the graph around an image, with what hangs off it. */
export interface GraphNode {
  kind: NodeKind;
  descriptor: Descriptor;
  /** How it hangs off its parent: an index child, a cosign tag, or a referrer. */
  via: 'root' | 'child' | 'tag' | 'referrers';
  /** The cosign tag, for `via: 'tag'`. */
  tag?: string;
  artifactType?: string;
  /** Platform, for index children. */
  platform?: string;
  /** Bytes of the manifest and what it references (config, layers), not counting children. */
  size: number;
  children: GraphNode[];
  /** An index child that the store does not have (a sparse index). */
  missing?: boolean;
}

const SBOM_TYPES = [
  'application/spdx+json',
  'text/spdx',
  'text/spdx+json',
  'application/vnd.cyclonedx+json',
  'application/vnd.cyclonedx',
  'application/vnd.syft+json',
];

/** The kind of a referrer, from its artifactType and annotations. */
export function referrerKind(d: Descriptor): NodeKind {
  const t = d.artifactType ?? '';
  if (t === SigningTypes.Bundle)
    return d.annotations?.[SigningTypes.BundlePredicateType] === SigningTypes.CosignSignPredicate
      ? 'signature'
      : 'attestation';
  if (t === 'application/vnd.cncf.notary.signature' || t === SigningTypes.SimpleSigning) return 'signature';
  if (SBOM_TYPES.some((s) => t.startsWith(s)) || /spdx|cyclonedx/i.test(t)) return 'sbom';
  if (t === SigningTypes.Dsse || t.includes('in-toto')) return 'attestation';
  return 'referrer';
}

function ownSize(a: Artifact, m: ParsedManifest): number {
  if (m.kind !== 'image') return a.manifest.length;
  return a.manifest.length + m.manifest.config.size + m.manifest.layers.reduce((n, l) => n + l.size, 0);
}

const SUFFIXES = [
  ['sig', 'signature'],
  ['att', 'attestation'],
  ['sbom', 'sbom'],
] as const;

/**
 * The graph around a manifest: index children (each with their own graph), cosign `.sig`/`.att`/
 * `.sbom` tags and referrers (API or tag schema), each followed in turn (a signature of an SBOM).
 * `seen` stops cycles and repeats.
 */
export async function discoverGraph(
  store: GraphStore,
  a: Artifact,
  via: GraphNode['via'] = 'root',
  seen = new Set<Digest>(),
): Promise<GraphNode> {
  seen.add(a.descriptor.digest);
  const m = parseArtifactManifest(a);
  const artifactType = m.kind === 'schema1' ? undefined : m.manifest.artifactType;
  const kind = m.kind === 'index' ? 'index' : 'image';
  const node: GraphNode = { kind, descriptor: a.descriptor, via, size: ownSize(a, m), children: [] };
  if (artifactType) node.artifactType = artifactType;
  if (m.kind === 'index') {
    for (const c of m.manifest.manifests) {
      if (seen.has(c.digest)) continue;
      const got = await store.get(c.digest).catch((e: unknown) => {
        if ((e as { code?: string }).code === 'MANIFEST_UNKNOWN' || (e as { code?: string }).code === 'BLOB_UNKNOWN')
          return undefined;
        throw e;
      });
      // A sparse index (a mirror of some platforms only) lists children that are not there.
      if (!got) {
        node.children.push({ kind: 'image', descriptor: c, via: 'child', size: 0, children: [], missing: true });
        continue;
      }
      const child = await discoverGraph(store, got, 'child', seen);
      if (c.platform)
        child.platform = [c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join('/');
      if (c.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') child.kind = 'attestation';
      node.children.push(child);
    }
  }
  node.children.push(...(await attachedTo(store, a.descriptor.digest, seen)));
  return node;
}

/** What hangs off one digest: cosign tags and referrers, each with its own graph. */
export async function attachedTo(store: GraphStore, digest: Digest, seen = new Set<Digest>()): Promise<GraphNode[]> {
  // The four lookups go at once (most images have nothing attached: four 404s or empty lists).
  const [tagged, referrers] = await Promise.all([
    Promise.all(
      SUFFIXES.map(async ([suffix, kind]) => ({
        tag: cosignTag(digest, suffix),
        kind,
        a: await store.find(cosignTag(digest, suffix)),
      })),
    ),
    store.referrers(digest),
  ]);
  const out: GraphNode[] = [];
  for (const { tag, kind, a } of tagged) {
    if (!a || seen.has(a.descriptor.digest)) continue;
    const n = await discoverGraph(store, a, 'tag', seen);
    out.push({ ...n, kind, tag });
  }
  // Sorted: the referrers API and the tag schema list them in different orders.
  for (const r of [...referrers].sort((x, y) => (x.digest < y.digest ? -1 : 1))) {
    if (seen.has(r.digest)) continue;
    const n = await discoverGraph(store, await store.get(r.digest), 'referrers', seen);
    out.push({ ...n, kind: referrerKind(r), ...(r.artifactType ? { artifactType: r.artifactType } : {}) });
  }
  return out;
}

/** Every node of a graph, depth first. */
export function graphNodes(n: GraphNode, out: GraphNode[] = []): GraphNode[] {
  out.push(n);
  for (const c of n.children) graphNodes(c, out);
  return out;
}

/** What `copyGraph` did: how many attached manifests went, by kind. */
export interface GraphCopyResult {
  copied: { kind: NodeKind; digest: Digest; via: 'tag' | 'referrers'; tag?: string }[];
}

/**
 * Copies what hangs off an image that was already copied: cosign tags go as the same tags, referrers
 * by digest (with the tag schema kept where the destination has no referrers API), recursively, for
 * the root and every index child. Parents go before what hangs off them (a referrer's subject must exist).
 */
export async function copyGraph(from: GraphStore, to: GraphStore, root: Artifact): Promise<GraphCopyResult> {
  const graph = await discoverGraph(from, root);
  const res: GraphCopyResult = { copied: [] };
  const walk = async (n: GraphNode, parent: Digest | undefined): Promise<void> => {
    if (n.missing) return;
    if (n.via === 'tag' || n.via === 'referrers') {
      const a = await from.get(n.descriptor.digest);
      if (n.via === 'tag') await to.put(n.tag!, a);
      else await to.putReferrer(a, parent!);
      res.copied.push({ kind: n.kind, digest: n.descriptor.digest, via: n.via, ...(n.tag ? { tag: n.tag } : {}) });
    }
    for (const c of n.children) await walk(c, n.descriptor.digest);
  };
  await walk(graph, undefined);
  return res;
}

/** One line per node, drawn as a tree like `oras discover` and `cosign tree`. */
export function formatGraph(root: GraphNode, name: string): string {
  const lines = [`${name}@${root.descriptor.digest} (${root.kind}, ${root.size} B)`];
  const label = (n: GraphNode) => {
    const where =
      n.via === 'tag'
        ? `tag ${n.tag}`
        : n.via === 'referrers'
          ? `referrer${n.artifactType ? ` ${n.artifactType}` : ''}`
          : n.platform
            ? n.platform
            : 'child';
    return `${n.kind} ${n.descriptor.digest} [${where}] ${n.missing ? 'missing' : `${n.size} B`}`;
  };
  const walk = (n: GraphNode, prefix: string) => {
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${label(c)}`);
      walk(c, prefix + (last ? '    ' : '│   '));
    });
  };
  walk(root, '');
  return lines.join('\n') + '\n';
}
