/** src/signing: cosign-compatible keys, signatures, attestations, policies and the graph around an image. */
export * from './keys.js';
export * from './formats.js';
export * from './store.js';
export * from './attach.js';
export * from './verify.js';
export * from './graph.js';
export * from './policy.js';
