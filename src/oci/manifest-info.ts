// What a registry keeps about a manifest: a projection of the parsed manifest (oci/manifest.ts).
import type { Digest } from './digest.js';
import { parseManifest, type ParsedManifest } from './manifest.js';

/** What a registry must know about a manifest it stores; the bytes themselves are kept verbatim. */
export interface ManifestInfo {
  mediaType: string;
  /** Config and layers that must exist (non-distributable layers with `urls` excluded). */
  blobs: Digest[];
  /** Child manifests of an index. */
  manifests: Digest[];
  subject: Digest | null;
  /** Referrers artifact type: `artifactType`, else the config media type for image manifests. */
  artifactType: string | null;
  annotations: Record<string, string> | null;
  /** The size each descriptor of `blobs` and `manifests` declares, and where it stands (e.g. `layers[2]`). */
  declared: DeclaredSize[];
}

export interface DeclaredSize {
  digest: Digest;
  size: number;
  where: string;
  kind: 'blob' | 'manifest';
}

/** The registry's view of a parsed manifest. */
export function manifestInfo(p: ParsedManifest): ManifestInfo {
  if (p.kind === 'schema1') {
    const none = { manifests: [], subject: null, artifactType: null, annotations: null, declared: [] };
    return { mediaType: p.mediaType, blobs: [...new Set(p.blobs)], ...none };
  }
  const m = p.manifest;
  const common = { mediaType: p.mediaType, subject: m.subject?.digest ?? null, annotations: m.annotations ?? null };
  if (p.kind === 'index') {
    const declared = p.manifest.manifests.map(
      (d, i): DeclaredSize => ({
        digest: d.digest,
        size: d.size,
        where: `manifests[${i}]`,
        kind: 'manifest',
      }),
    );
    const manifests = [...new Set(declared.map((d) => d.digest))];
    return { ...common, blobs: [], manifests, artifactType: p.manifest.artifactType ?? null, declared };
  }
  const c = p.manifest.config;
  const declared: DeclaredSize[] = [{ digest: c.digest, size: c.size, where: 'config', kind: 'blob' }];
  p.manifest.layers.forEach((l, i) => {
    // Non-distributable (foreign) layers live elsewhere; Distribution does not require them either.
    if (!l.urls?.length) declared.push({ digest: l.digest, size: l.size, where: `layers[${i}]`, kind: 'blob' });
  });
  // A config without mediaType (accepted, see ParseOptions.lenientMediaType) gives no artifact type.
  const artifactType = p.manifest.artifactType ?? c.mediaType ?? null;
  return { ...common, blobs: [...new Set(declared.map((d) => d.digest))], manifests: [], artifactType, declared };
}

/** Parses manifest bytes pushed with `contentType` (may be empty) into what the registry stores about them. */
export function parseManifestInfo(bytes: Uint8Array, contentType: string | undefined): ManifestInfo {
  return manifestInfo(parseManifest(bytes, contentType, { lenientMediaType: true }));
}
