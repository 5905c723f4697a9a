import { runBlobStoreConformance } from './conformance.js';
import { MemoryBlobStore } from './memory.js';

runBlobStoreConformance('memory', async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }));
