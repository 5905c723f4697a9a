import { runMetadataConformance } from './conformance.js';
import { MemoryMetadataStore } from './memory.js';

runMetadataConformance('memory', async () => {
  const store = new MemoryMetadataStore();
  return { store, cleanup: () => store.close() };
});
