/**
 * Test helper (not a test): docker-archive tarballs in each shape found in the wild (clients.md
 * §2.2), built in memory from seeded random images so the tests need no Docker.
 */
import { createHash } from 'node:crypto';
import type { Descriptor } from '../oci/artifact.js';
import { digestHex, digestOf, type Digest } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { openImage } from '../oci/image.js';
import { makeTar, randomImage, type MemoryArtifact, type TarFile } from '../oci/random.js';

/** The parts of a random image a fixture lays out: config bytes, layer blobs and their diff_ids. */
export interface FixtureImage {
  artifact: MemoryArtifact;
  config: Buffer;
  configDigest: Digest;
  layers: { blob: Buffer; digest: Digest; diffId: Digest }[];
}

/** A seeded random image, layers uncompressed or gzip, with its parts at hand. */
export async function fixtureImage(
  seed: number,
  opts: { layers?: number; gzip?: boolean } = {},
): Promise<FixtureImage> {
  const artifact = await randomImage({ seed, layers: opts.layers ?? 2, compression: opts.gzip ? 'gzip' : 'none' });
  const m = openImage(artifact).manifest;
  const config = artifact.blobs.map.get(m.config.digest)!;
  const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs: { diff_ids: Digest[] } }).rootfs.diff_ids;
  const layers = m.layers.map((l, i) => ({
    blob: artifact.blobs.map.get(l.digest)!,
    digest: l.digest,
    diffId: diffIds[i]!,
  }));
  return { artifact, config, configDigest: m.config.digest, layers };
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const json = (name: string, v: unknown): TarFile => ({ name, data: Buffer.from(JSON.stringify(v)) });

/**
 * Legacy `docker save` (≤ 24): `<v1id>/{VERSION,json,layer.tar}`, `<config hex>.json`, manifest.json,
 * repositories. With `links: 'symlink'`, skopeo's variant: `<diffid>.tar` files with `layer.tar` symlinks
 * to them (or hardlinks, whose target is named from the archive root).
 */
export async function legacyArchive(
  images: { img: FixtureImage; tags: string[] | null }[],
  opts: { links?: 'symlink' | 'link'; corrupt?: boolean } = {},
): Promise<Buffer> {
  const files: TarFile[] = [];
  const manifest: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { img, tags } of images) {
    const layerPaths: string[] = [];
    for (const [i, l] of img.layers.entries()) {
      const v1id = hex(`${img.configDigest} ${i}`);
      const data = opts.corrupt && i === 0 ? Buffer.from(l.blob).fill(1, 600, 700) : l.blob;
      files.push(
        { name: `${v1id}/`, type: 'directory' },
        { name: `${v1id}/VERSION`, data: Buffer.from('1.0') },
        json(`${v1id}/json`, { id: v1id }),
      );
      if (opts.links) {
        const linkname = `${opts.links === 'symlink' ? '../' : ''}${digestHex(l.diffId)}.tar`;
        files.push(
          { name: `${digestHex(l.diffId)}.tar`, data },
          { name: `${v1id}/layer.tar`, type: opts.links, linkname },
        );
      } else files.push({ name: `${v1id}/layer.tar`, data });
      layerPaths.push(`${v1id}/layer.tar`);
    }
    files.push({ name: `${digestHex(img.configDigest)}.json`, data: img.config });
    manifest.push({ Config: `${digestHex(img.configDigest)}.json`, RepoTags: tags, Layers: layerPaths });
    for (const t of tags ?? []) {
      const [repo, tag] = t.split(/:(?=[^:/]+$)/) as [string, string];
      (repositories[repo] ??= {})[tag] = layerPaths.length ? layerPaths[layerPaths.length - 1]!.split('/')[0]! : '';
    }
  }
  return makeTar([...files, json('manifest.json', manifest), json('repositories', repositories)]);
}

/** An OCI image manifest over a fixture's config and layers (as they are). */
function ociManifest(img: FixtureImage, layerType: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: img.configDigest, size: img.config.length },
      layers: img.layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.blob.length })),
    }),
  );
}

const blob = (data: Buffer): TarFile => ({ name: `blobs/sha256/${digestHex(digestOf(data))}`, data });

/**
 * Docker 25+: an OCI layout (uncompressed layers under their DiffID) plus manifest.json.
 * `nullManifests` writes `"manifests": null` as docker does when saving by digest (moby#47210).
 */
export async function docker25Archive(
  images: { img: FixtureImage; tags: string[] | null }[],
  opts: { nullManifests?: boolean } = {},
): Promise<{ tar: Buffer; manifests: Buffer[] }> {
  const files: TarFile[] = [{ name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }];
  const index: Descriptor[] = [];
  const manifestJson: unknown[] = [];
  const manifests: Buffer[] = [];
  for (const { img, tags } of images) {
    const m = ociManifest(img, MediaTypes.OciLayer);
    manifests.push(m);
    files.push(blob(img.config), blob(m), ...img.layers.map((l) => blob(l.blob)));
    const d = { mediaType: MediaTypes.OciManifest, digest: digestOf(m), size: m.length };
    for (const t of tags ?? [])
      index.push({
        ...d,
        annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': t.split(':').pop()! },
      });
    if (!tags?.length) index.push(d);
    manifestJson.push({
      Config: `blobs/sha256/${digestHex(img.configDigest)}`,
      RepoTags: tags,
      Layers: img.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
    });
  }
  files.push(
    json('index.json', {
      schemaVersion: 2,
      mediaType: MediaTypes.OciIndex,
      manifests: opts.nullManifests ? null : index,
    }),
    json('manifest.json', manifestJson),
  );
  return { tar: await makeTar(files), manifests };
}

/**
 * containerd image store: index.json → nested index (the image, gzip layers, plus an
 * `unknown/unknown` attestation manifest). `dropAttestation` leaves the attestation's blobs out.
 */
export async function containerdArchive(
  img: FixtureImage,
  tag: string,
  opts: { dropAttestation?: boolean } = {},
): Promise<{ tar: Buffer; nested: Buffer; image: Buffer }> {
  const image = ociManifest(img, MediaTypes.OciLayerGzip);
  const statement = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}');
  const empty = Buffer.from('{}');
  const att = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(empty), size: 2 },
      layers: [{ mediaType: 'application/vnd.in-toto+json', digest: digestOf(statement), size: statement.length }],
    }),
  );
  const imageDesc = {
    mediaType: MediaTypes.OciManifest,
    digest: digestOf(image),
    size: image.length,
    platform: { architecture: 'amd64', os: 'linux' },
  };
  const attDesc = {
    mediaType: MediaTypes.OciManifest,
    digest: digestOf(att),
    size: att.length,
    platform: { architecture: 'unknown', os: 'unknown' },
    annotations: {
      'vnd.docker.reference.digest': imageDesc.digest,
      'vnd.docker.reference.type': 'attestation-manifest',
    },
  };
  const nested = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [imageDesc, attDesc] }),
  );
  const files: TarFile[] = [
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    json('index.json', {
      schemaVersion: 2,
      mediaType: MediaTypes.OciIndex,
      manifests: [
        {
          mediaType: MediaTypes.OciIndex,
          digest: digestOf(nested),
          size: nested.length,
          annotations: { 'io.containerd.image.name': tag, 'org.opencontainers.image.ref.name': tag.split(':').pop() },
        },
      ],
    }),
    json('manifest.json', [
      {
        Config: `blobs/sha256/${digestHex(img.configDigest)}`,
        RepoTags: [tag],
        Layers: img.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
      },
    ]),
    blob(nested),
    blob(image),
    blob(img.config),
    ...img.layers.map((l) => blob(l.blob)),
    ...(opts.dropAttestation ? [] : [blob(att), blob(statement), blob(empty)]),
  ];
  return { tar: await makeTar(files), nested, image };
}

/** ggcr's tarball (`crane pull`): `Config: "sha256:<hex>"` and compressed `<hex>.tar.gz` layers. */
export async function ggcrArchive(img: FixtureImage, tag: string): Promise<Buffer> {
  return makeTar([
    json('manifest.json', [
      { Config: img.configDigest, RepoTags: [tag], Layers: img.layers.map((l) => `${digestHex(l.digest)}.tar.gz`) },
    ]),
    { name: img.configDigest, data: img.config },
    ...img.layers.map((l) => ({ name: `${digestHex(l.digest)}.tar.gz`, data: l.blob })),
  ]);
}
