// The metadata conformance suite: every role's tests, run against one store implementation.
import { accountSuite } from './accounts.js';
import { auditSuite } from './audit.js';
import { blobSuite } from './blobs.js';
import { browseSuite } from './browse.js';
import { eventSuite } from './events.js';
import { runSuites, type StoreFactory } from './fixtures.js';
import { gcSuite } from './gc.js';
import { listingSuite } from './listings.js';
import { manifestSuite } from './manifests.js';
import { scanSuite } from './scans.js';
import { tagPageSuite } from './tag-pages.js';
import { uploadSuite } from './uploads.js';
import { usageSuite } from './usage.js';

export type { StoreFactory } from './fixtures.js';
export { runAccountConformance } from './accounts.js';
export { runAuditConformance } from './audit.js';
export { runBlobConformance } from './blobs.js';
export { runEventConformance } from './events.js';
export { runGcConformance } from './gc.js';
export { runManifestConformance } from './manifests.js';
export { runScanConformance } from './scans.js';
export { runUploadConformance } from './uploads.js';
export { runUsageConformance } from './usage.js';

/**
 * The behaviour every MetadataStore must share, role by role. `create` is called once per test and
 * must return an empty store; `cleanup` closes it and removes whatever it left behind.
 */
export function runMetadataConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore conformance: ${name}`, create, [
    blobSuite,
    manifestSuite,
    listingSuite,
    browseSuite,
    tagPageSuite,
    uploadSuite,
    gcSuite,
    usageSuite,
    auditSuite,
    accountSuite,
    scanSuite,
    eventSuite,
  ]);
}
