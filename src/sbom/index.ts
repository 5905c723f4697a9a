/** src/sbom: software bills of materials of images (catalogers, SPDX 2.3 and CycloneDX writers, referrer artifacts). */
export * from './model.js';
export * from './layers.js';
export * from './catalog.js';
export * from './osrelease.js';
export * from './dpkg.js';
export * from './apk.js';
export * from './rpm.js';
export * from './npm.js';
export * from './python.js';
export * from './golang.js';
export * from './java.js';
export * from './licenses.js';
export * from './spdx.js';
export * from './cyclonedx.js';
export * from './text.js';
export * from './artifact.js';
export * from './formats.js';
