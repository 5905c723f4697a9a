import type { Artifact, Descriptor } from '../oci/artifact.js';
import { OverlayBlobs, readSmallBlob } from '../oci/blob.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { openIndex } from '../oci/image.js';
import { parseImageManifest } from '../oci/manifest.js';
import { SbomTypes } from './formats.js';

/** The artifact types an SBOM is attached with (what syft, oras and Docker Scout use). */
export { SbomTypes };

const EMPTY = Buffer.from('{}');
const EMPTY_DESCRIPTOR: Descriptor = { mediaType: MediaTypes.OciEmpty, digest: digestOf(EMPTY), size: 2 };

/** An OCI 1.1 artifact holding one SBOM document as its layer, with `subject` = the image it describes. */
export function sbomArtifact(doc: Buffer, artifactType: string, subject: Descriptor, created = new Date()): Artifact {
  const layer: Descriptor = { mediaType: artifactType, digest: digestOf(doc), size: doc.length };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      artifactType,
      config: EMPTY_DESCRIPTOR,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: {
        'org.opencontainers.image.created': created.toISOString().replace(/\.\d+Z$/, 'Z'),
        'dev.ocikura.sbom.generator': 'kura',
      },
    }),
  );
  const blobs = new OverlayBlobs(
    new Map<Digest, Buffer>([
      [layer.digest, doc],
      [EMPTY_DESCRIPTOR.digest, EMPTY],
    ]),
    [],
  );
  return {
    descriptor: { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length },
    manifest,
    blobs,
  };
}

/** The newest referrer of the wanted artifact type (by its created annotation), if any. */
export function pickSbomReferrer(referrers: Descriptor[], artifactType: string): Descriptor | undefined {
  const created = (d: Descriptor) => d.annotations?.['org.opencontainers.image.created'] ?? '';
  return referrers
    .filter((d) => d.artifactType === artifactType)
    .sort((a, b) => created(b).localeCompare(created(a)))[0];
}

/** The SBOM document an SBOM artifact holds: its first layer of the artifact type (or any JSON layer). */
export async function readSbomArtifact(a: Artifact): Promise<Buffer> {
  const m = parseImageManifest(a.manifest, a.descriptor.mediaType, `SBOM artifact ${a.descriptor.digest}`);
  const layer = m.layers.find((l) => l.mediaType === m.artifactType) ?? m.layers.find((l) => /json/.test(l.mediaType));
  if (!layer) throw new Error(`${a.descriptor.digest} holds no SBOM layer`);
  return readSmallBlob(a.blobs, layer, 256 << 20);
}

/** BuildKit's predicate types for SBOMs in attestation manifests. */
const BUILDKIT_PREDICATES: Record<string, string> = {
  'https://spdx.dev/Document': SbomTypes.Spdx,
  'https://cyclonedx.org/bom': SbomTypes.CycloneDx,
};

/**
 * BuildKit's SBOM attestation for an image of an index: the entry with
 * `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest` = the image, whose
 * in-toto layer has an SBOM predicate of the wanted type. Returns the predicate (the SBOM) as JSON bytes.
 */
export async function buildkitSbom(index: Artifact, image: Digest, artifactType: string): Promise<Buffer | undefined> {
  for (const d of openIndex(index).manifests) {
    if (
      d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' ||
      d.annotations['vnd.docker.reference.digest'] !== image
    )
      continue;
    const m = parseImageManifest(await readSmallBlob(index.blobs, d), d.mediaType, `${d.mediaType} ${d.digest}`);
    for (const l of m.layers) {
      if (BUILDKIT_PREDICATES[l.annotations?.['in-toto.io/predicate-type'] ?? ''] !== artifactType) continue;
      const stmt = JSON.parse((await readSmallBlob(index.blobs, l, 256 << 20)).toString('utf8')) as {
        predicate?: unknown;
      };
      if (stmt.predicate) return Buffer.from(JSON.stringify(stmt.predicate));
    }
  }
  return undefined;
}
