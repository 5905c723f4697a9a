/** OCI image layouts: a directory (`OciLayout`), and the same layout read in place inside a tar (`TarLayout`). */
export { OciLayout } from './oci-layout.js';
export { TarLayout, blobPath, CONTAINERD_NAME } from './tar-layout.js';
export { REF_NAME, parseIndexJson, layoutTags, type IndexJson } from './index-json.js';
