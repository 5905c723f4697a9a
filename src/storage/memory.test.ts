import { runBlobStoreConformance } from './conformance.js';
import { MemoryBlobStore } from './memory.js';
import { withChecks } from './checks.js';

runBlobStoreConformance('memory', async () => ({ store: withChecks(new MemoryBlobStore()), cleanup: async () => {} }));
