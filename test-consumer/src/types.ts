// Compile-time checks of the package's types: each line under `@ts-expect-error` must NOT compile. If one ever
// does (a typo accepted again), tsc fails on the unused directive and so does consumer.test.ts. Never run.
import { withConfig, type Artifact, type ContainerConfig, type ImageConfig, type ImageManifest } from 'ocikura';

declare const img: Artifact;
declare const cfg: ImageConfig;
declare const manifest: ImageManifest;

export const entrypoint = withConfig(img, (c) => ({
  ...c,
  // @ts-expect-error a misspelt key of the container config
  config: { ...c.config, Entrypont: ['/x'] },
}));
// @ts-expect-error a misspelt top-level key of the image config
export const top = withConfig(img, (c) => ({ ...c, confg: { Cmd: ['/x'] } }));
export const run: ContainerConfig = {
  Cmd: ['x'],
  // @ts-expect-error a misspelt key in a literal
  WorkDir: '/app',
};
// @ts-expect-error reading a key no config has
export const cmd = cfg.config?.Cmdd;
// @ts-expect-error a manifest field that does not exist
export const layer = manifest.layer;
// What is right compiles.
export const right = withConfig(img, (c) => ({ ...c, config: { ...c.config, Entrypoint: ['/x'], WorkingDir: '/app' } }));
