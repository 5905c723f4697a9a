import { runTransportConformance } from './conformance.js';
import { MemoryImages } from './memory.js';

runTransportConformance('memory', { create: async () => new MemoryImages(), keepsDescriptorAnnotations: true });
