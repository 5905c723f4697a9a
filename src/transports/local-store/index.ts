/** The local image store: docker's image store without a daemon (images.json, blobs, a layer-file index). */
export { LocalStore, defaultStoreDir } from './store.js';
export type { LocalStoreOptions, WriteImageOptions, WriteImageResult } from './store.js';
export { normalizeName } from './plan.js';
export type { DeleteItem, DiskUsage, ImageUsage, LabelFilter, PruneOptions, PrunePlan } from './plan.js';
export type { ImageRecord, StoredBlob } from './table.js';
export { imageId, shortId, unpackedSize } from './record.js';
export { IndexCacheDir } from './index-cache.js';
