/** `build`: a Dockerfile's stages run in order of need, each from its base's rootfs, the target's image the result. */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Artifact, Platform } from '../oci/artifact.js';
import { OverlayBlobs } from '../oci/blob.js';
import type { ImageConfig } from '../oci/config.js';
import { digestOf } from '../oci/digest.js';
import { openImage, resolvePlatform } from '../oci/image.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { creationTime, withConfig } from '../oci/mutate.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import { contentDigest } from './copy.js';
import { DockerfileError, parseDockerfile, type Instruction, type Stage } from './dockerfile.js';
import { applyInstruction } from './instructions.js';
import { expandWord, LexError, splitWords } from './lex.js';
import { applyLayer } from './unpack.js';
import { BuildError, type BuildInput, type StageState } from './state.js';
import { stageTree, unpackSettled, type StepContext } from './step.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** An image with no layers for `FROM scratch`. */
function scratch(p: Platform): Artifact {
  const config: ImageConfig = {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
  };
  const cb = Buffer.from(JSON.stringify(config));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: digestOf(cb), size: cb.length },
      layers: [],
    }),
  );
  return {
    descriptor: { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length },
    manifest,
    blobs: new OverlayBlobs(new Map([[digestOf(cb), cb]]), []),
  };
}

/** The build-time ARGs BuildKit defines (TARGETPLATFORM, TARGETARCH, BUILDPLATFORM, …). */
function builtinArgs(target: Platform): Map<string, string> {
  const host = parsePlatform(`linux/${process.arch === 'x64' ? 'amd64' : process.arch}`);
  const m = new Map<string, string>();
  for (const [prefix, p] of [
    ['TARGET', target],
    ['BUILD', host],
  ] as const) {
    m.set(`${prefix}PLATFORM`, formatPlatform(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return m;
}

/** Where an error happened, as BuildKit names it: the Dockerfile, the instruction's line and column. */
function at(file: string, ins: Instruction, e: unknown): Error {
  if (e instanceof DockerfileError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DockerfileError(file, ins.line, ins.column, msg.startsWith(ins.cmd) ? msg : `${ins.cmd}: ${msg}`);
}

/** Builds the target stage of `input.dockerfile` and returns its image (nothing is written anywhere). */
export async function build(input: BuildInput): Promise<Artifact> {
  const df = input.dockerfile;
  const tmp = await mkdtemp(join(tmpdir(), 'kura-build-'));
  const metaArgs = builtinArgs(input.platform);
  for (const ins of df.metaArgs)
    for (const w of splitWords(ins.args, df.escape)) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w : w.slice(0, eq);
      const v = input.buildArgs.get(name) ?? (eq < 0 ? undefined : expandWord(w.slice(eq + 1), metaArgs, df.escape));
      if (v !== undefined) metaArgs.set(name, v);
    }
  const stageIndex = (ref: string): number | undefined => {
    const byName = df.stages.findIndex((s) => s.name === ref.toLowerCase());
    if (byName >= 0) return byName;
    return /^\d+$/.test(ref) && Number(ref) < df.stages.length ? Number(ref) : undefined;
  };
  let target = df.stages.length - 1;
  if (input.target !== undefined) {
    const t = stageIndex(input.target);
    if (t === undefined)
      throw new BuildError(`target stage "${input.target}" could not be found: name one of the FROM … AS stages`);
    target = t;
  }
  const built = new Map<number, Promise<StageState>>();
  const images = new Map<string, Promise<string>>();
  const external = new Map<string, Promise<Artifact>>();
  const imageOf = (ref: string): Promise<Artifact> => {
    if (!external.has(ref))
      external.set(ref, (async () => resolvePlatform(await input.openImage(ref, input.platform), input.platform))());
    return external.get(ref)!;
  };
  const usedArgs = new Set<string>();
  const ctx: StepContext = {
    input,
    metaArgs,
    usedArgs,
    rootfsOf: async (from) => {
      const i = stageIndex(from);
      if (i !== undefined) return stageTree(await stage(i), input);
      if (!images.has(from))
        images.set(
          from,
          (async () => {
            const dir = await mkdtemp(join(tmp, 'image-'));
            await unpack(await imageOf(from), dir);
            return dir;
          })(),
        );
      return images.get(from)!;
    },
    // a stage's or image's tree, known by its layers' digests (diff_ids): nothing unpacked, nothing read
    treeKey: async (from) => {
      const i = stageIndex(from);
      return `tree:${await treeOf(i !== undefined ? (await stage(i)).image : await imageOf(from))}`;
    },
    inputsDigest: contentDigest,
  };
  const unpack = async (a: Artifact, dir: string) => {
    const layers = await openImage(a).layers();
    input.onUnpack?.(layers.length);
    for (const l of layers) await applyLayer(dir, await l.uncompressed(), input.onWarning);
  };

  const stage = (i: number): Promise<StageState> => {
    if (!built.has(i)) built.set(i, runStage(i));
    return built.get(i)!;
  };
  const runStage = async (i: number): Promise<StageState> => {
    const st: Stage = df.stages[i]!;
    const where = (e: unknown) => at(df.file, st.from, e);
    let s: StageState;
    try {
      const base = expandWord(st.base, metaArgs, df.escape);
      const pf = st.from.flags.get('platform')?.[0];
      const platform = pf ? parsePlatform(expandWord(pf, metaArgs, df.escape)) : input.platform;
      const rootfs = join(tmp, `stage-${i}`);
      const dir = await mkdtemp(join(tmp, `work-${i}-`));
      let image: Artifact;
      let chain: string | undefined;
      let pending: StageState['pending'];
      const prev = stageIndex(base);
      if (prev !== undefined && prev < i) {
        const p = await stage(prev);
        await unpackSettled(p);
        const r = spawnSync('cp', ['-a', p.rootfs, rootfs]);
        if (r.status !== 0) throw new BuildError(`copying stage ${prev}'s filesystem failed: ${r.stderr}`);
        // what the earlier stage has not unpacked yet, this one unpacks when it needs it
        pending = [...p.pending];
        image = await finishStage(p, {}, input.epoch);
        // the chain goes on from the stage's layers and config, not its manifest: that has a fresh `created`
        // (without SOURCE_DATE_EPOCH), which would make every step of this stage miss the cache
        chain = digestOf(Buffer.from(`stage:${await treeOf(image)}\0${JSON.stringify(p.config.config ?? {})}`));
      } else {
        await mkdir(rootfs);
        image =
          base === 'scratch'
            ? scratch(platform)
            : await resolvePlatform(await input.openImage(base, platform), platform);
        // the base's layers are unpacked when a step first reads the tree (a fully cached build never does)
        pending = (await openImage(image).layers()).map((l) => () => l.uncompressed());
      }
      input.onStep?.(`[${i + 1}/${df.stages.length}] FROM ${base}${st.name ? ` AS ${st.name}` : ''}`);
      const config = structuredClone(await openImage(image).config());
      const env = config.config?.Env ?? [];
      if (!env.some((e) => e.startsWith('PATH='))) config.config = { ...config.config, Env: [DEFAULT_PATH, ...env] };
      const layers = openImage(image).manifest.layers.length;
      s = {
        index: i,
        ...(st.name ? { name: st.name } : {}),
        image,
        config,
        rootfs,
        pending,
        history: config.history ?? Array.from({ length: layers }, () => ({})),
        args: new Map(),
        shell: config.config?.Shell ?? ['/bin/sh', '-c'],
        cmdSet: false,
        cacheKey: chain ?? image.descriptor.digest,
        tmp: dir,
      };
    } catch (e) {
      throw where(e);
    }
    const triggers = s.config.config?.OnBuild ?? [];
    if (triggers.length) s.config = { ...s.config, config: { ...s.config.config, OnBuild: null } };
    const onbuild = triggers.map((t) => parseDockerfile(`FROM scratch\n${t}`, `${df.file} (ONBUILD of ${st.base})`));
    const steps = [...onbuild.flatMap((d) => d.stages[0]!.instructions), ...st.instructions];
    for (const [n, ins] of steps.entries()) {
      s.step = `[${i + 1}/${df.stages.length}] STEP ${n + 1}/${steps.length}`;
      s.treeAhead = steps.slice(n + 1).some(readsTree);
      input.onStep?.(`${s.step}: ${ins.original}`);
      try {
        await applyInstruction(s, ins, ctx);
      } catch (e) {
        throw at(df.file, ins, e instanceof LexError ? new BuildError(e.message) : e);
      }
    }
    return s;
  };

  try {
    const s = await stage(target);
    for (const k of input.buildArgs.keys())
      if (!usedArgs.has(k) && !df.metaArgs.some((a) => a.args.split(/[=\s]/)[0] === k))
        input.onWarning?.(`--build-arg ${k} was not consumed by any ARG of the Dockerfile`);
    return await finishStage(s, input.labels, input.epoch);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Whether an instruction reads the stage's tree when it runs (not only which paths exist: see lazy-tree.ts). */
function readsTree(ins: Instruction): boolean {
  const link = ins.flags.get('link')?.[0];
  const linked = link !== undefined && link !== 'false';
  return ins.cmd === 'RUN' || ins.cmd === 'ADD' || (ins.cmd === 'COPY' && ins.flags.has('chown') && !linked);
}

/** An image's layers as the digests of their tars, in order: what its tree holds. */
const treeOf = async (a: Artifact): Promise<string> => (await openImage(a).config()).rootfs.diff_ids.join(',');

/** The stage's image: its config, with labels added and `created` on the config and the new history entries. */
async function finishStage(s: StageState, labels: Record<string, string>, epoch?: number): Promise<Artifact> {
  const created = creationTime(epoch !== undefined ? new Date(epoch * 1000) : undefined);
  const config = Object.keys(labels).length
    ? { ...s.config, config: { ...s.config.config, Labels: { ...s.config.config?.Labels, ...labels } } }
    : s.config;
  return withConfig(s.image, (c) => ({
    ...config,
    created,
    rootfs: c.rootfs,
    history: s.history.map((h) => (h.created ? h : { created, ...h })),
  }));
}
