// Compile-time checks of the package's types: each line under `@ts-expect-error` must NOT compile. If one ever
// does (a typo accepted again), tsc fails on the unused directive and so does consumer.test.ts. Never run.
import { withConfig, type Artifact, type ContainerConfig, type ImageConfig, type ImageManifest } from 'ocikura';

declare const img: Artifact;
declare const cfg: ImageConfig;
declare const manifest: ImageManifest;

// @ts-expect-error a misspelt key of the container config, in the returned spread the review found compiling
export const entrypoint = withConfig(img, (c) => ({ ...c, config: { ...c.config, Entrypont: ['/x'] } }));
// @ts-expect-error a misspelt top-level key of the image config
export const top = withConfig(img, (c) => ({ ...c, confg: { Cmd: ['/x'] } }));
// @ts-expect-error a misspelt key two levels down
export const deep = withConfig(img, (c) => ({ ...c, config: { ...c.config, Healthcheck: { Tst: ['CMD'] } } }));
// @ts-expect-error a misspelt key of a history entry
export const history = withConfig(img, (c) => ({ ...c, history: [{ creatd: '2024-01-01T00:00:00Z' }] }));
export const run: ContainerConfig = {
  Cmd: ['x'],
  // @ts-expect-error a misspelt key in a literal
  WorkDir: '/app',
};
// @ts-expect-error reading a key no config has
export const cmd = cfg.config?.Cmdd;
// @ts-expect-error a manifest field that does not exist
export const layer = manifest.layer;

// What is right compiles: known keys at every level, labels (a string map), removing a field.
export const right = withConfig(img, (c) => ({
  ...c,
  config: { ...c.config, Entrypoint: ['/x'], WorkingDir: '/app', Labels: { 'org.example': 'yes' } },
  history: [...(c.history ?? []), { created: '2024-01-01T00:00:00Z', created_by: 'kura' }],
  author: undefined,
}));
// A change typed ahead of time, as a helper of the user's own, compiles too.
const pinCmd = (c: ImageConfig): ImageConfig => ({ ...c, config: { ...c.config, Cmd: ['/app'] } });
export const typedAhead = withConfig(img, pinCmd);
