/** ocikura/testing: the conformance suites every store or transport must pass, and in-memory fixtures. */
export { runBlobStoreConformance } from './storage/conformance.js';
export {
  runMetadataConformance,
  runAccountConformance,
  runAuditConformance,
  runBlobConformance,
  runGcConformance,
  runManifestConformance,
  runUploadConformance,
  runUsageConformance,
  type StoreFactory,
} from './metadata/conformance/index.js';
export { runTransportConformance } from './transports/conformance.js';
export { MemoryBlobStore } from './storage/memory.js';
export { MemoryMetadataStore } from './metadata/memory/index.js';
