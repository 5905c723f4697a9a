// The media types Kura gives meaning to, and predicates over them.
import { OciError } from './errors.js';

/** Media types Kura gives meaning to. Any other media type is stored and served as it is. */
export const MediaTypes = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

/** A layer's media type for a manifest's kind (Docker schema 2 or OCI) and the layer's compression. */
export function layerMediaType(docker: boolean, compression: 'none' | 'gzip' | 'zstd'): string {
  if (!docker)
    return compression === 'gzip'
      ? MediaTypes.OciLayerGzip
      : compression === 'zstd'
        ? MediaTypes.OciLayerZstd
        : MediaTypes.OciLayer;
  if (compression === 'zstd')
    throw new OciError(
      'UNSUPPORTED',
      'a Docker schema 2 manifest cannot hold a zstd layer: use gzip, or convert the image to OCI first',
    );
  return compression === 'gzip' ? MediaTypes.DockerLayerGzip : MediaTypes.DockerLayer;
}

export function isIndexMediaType(mt: string): boolean {
  return mt === MediaTypes.OciIndex || mt === MediaTypes.DockerManifestList;
}

export function isImageManifestMediaType(mt: string): boolean {
  return mt === MediaTypes.OciManifest || mt === MediaTypes.DockerManifest;
}

/** Whether a descriptor of this media type names a manifest (image manifest, index or list) rather than a blob. */
export function isManifestMediaType(mt: string): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}
