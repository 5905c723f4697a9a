// The metadata conformance suite, whole and role by role, against the in-memory store.
import {
  runAccountConformance,
  runAuditConformance,
  runBlobConformance,
  runGcConformance,
  runManifestConformance,
  runScanConformance,
  runMetadataConformance,
  runUploadConformance,
  runUsageConformance,
} from './conformance/index.js';
import { MemoryMetadataStore } from './memory/index.js';

const memory = async () => {
  const store = new MemoryMetadataStore();
  return { store, cleanup: () => store.close() };
};

runMetadataConformance('memory', memory);

// Each role's suite also runs alone, as a store that implements the roles one at a time would use it.
for (const run of [
  runBlobConformance,
  runManifestConformance,
  runUploadConformance,
  runGcConformance,
  runUsageConformance,
  runAccountConformance,
  runAuditConformance,
  runScanConformance,
]) {
  run('memory', memory);
}
