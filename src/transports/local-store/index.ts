/** The local image store: docker's image store without a daemon (images.json, blobs, a layer-file index). */
export { LocalStore, defaultStoreDir } from './store.js';
export type { LocalStoreOptions, WriteImageOptions, WriteImageResult } from './store.js';
export { normalizeName, shortId } from './plan.js';
export type { DeleteItem, DiskUsage, ImageUsage, LabelFilter, PruneOptions, PrunePlan } from './plan.js';
export { imageId, type ImageRecord, type StoredBlob } from './table.js';
export { unpackedSize } from './sizes.js';
export { IndexCacheDir } from './index-cache.js';
