/**
 * The OCI distribution-spec v1.1.1 conformance cases (src/test/conformance-cases.ts) on the real app
 * over in-memory stores. Run twice: as a registry that needs `from` to mount
 * (OCI_AUTOMATIC_CROSSMOUNT=0) and with uploads.automaticMount (=1). With OCI_ROOT_URL set (as for the
 * official suite), also against that running registry, in the mode OCI_AUTOMATIC_CROSSMOUNT names (default 0).
 */
import { describe } from 'node:test';
import { conformanceSuite } from '../test/conformance-cases.js';
import { remoteRegistry } from '../test/conformance-kit.js';
import { useMemoryApp } from '../test/memory-app.js';

describe('conformance cases, OCI_AUTOMATIC_CROSSMOUNT=0 (mounts need from)', () =>
  conformanceSuite(false, (config) => useMemoryApp(config)));
describe('conformance cases, OCI_AUTOMATIC_CROSSMOUNT=1 (uploads.automaticMount)', () =>
  conformanceSuite(true, (config) => useMemoryApp(config)));

const root = process.env.OCI_ROOT_URL;
if (root) {
  const automatic = process.env.OCI_AUTOMATIC_CROSSMOUNT === '1';
  describe(`conformance cases against ${root} (OCI_ROOT_URL)`, () =>
    conformanceSuite(automatic, () => remoteRegistry(() => root.replace(/\/+$/, ''))));
}
