/** The local image store: docker's image store without a daemon (images.json, blobs, a layer-file index). */
export { LocalStore, defaultStoreDir, type LocalStoreOptions, type WriteImageOptions, type WriteImageResult } from './store.js';
export { familiar, normalizeName, shortId, type DeleteItem, type DiskUsage, type ImageUsage, type LabelFilter, type PruneOptions, type PrunePlan } from './plan.js';
export { imageId, type ImageRecord, type StoredBlob } from './table.js';
export { unpackedSize } from './sizes.js';
export { IndexCacheDir } from './index-cache.js';
