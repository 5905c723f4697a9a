/** Image archives: oci-archive (a tarred OCI layout), docker-archive (`docker save`), rootfs tarballs (`import`). */
export { OciArchive } from './oci-archive.js';
export { DockerArchive, type ArchiveImage } from './docker-archive.js';
export { DockerArchiveWriter, type DockerArchiveWriterOptions } from './docker-archive-writer.js';
export { importRootfs, type ImportOptions } from './rootfs-import.js';
export { TarIndex, ArchiveError, type TarEntry } from './tar-index.js';
