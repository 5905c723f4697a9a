/** The Dockerfile instructions after FROM, each applied to a stage: config changes, COPY/ADD and RUN layers. */
import { mkdtemp } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ContainerConfig } from '../oci/config.js';
import { copyInto, type CopySource } from './copy.js';
import type { Instruction } from './dockerfile.js';
import { expandWord, keyValues, splitWords } from './lex.js';
import { commitStep, stageTree, type Change, type StepContext } from './step.js';
import { runStep } from './run-step.js';
import { ensureParents, insidePath } from './rootfs.js';
import { pendingView, plainPath, scratchLayer, scratchRoot } from './lazy-tree.js';
import { BuildError, envMap, stageVars, type StageState } from './state.js';
import { userIds } from './run.js';
import { addUrl } from './add-url.js';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT: Record<string, number> = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

function duration(flag: string, v: string): number {
  const m = DURATION.exec(v);
  if (!m) throw new BuildError(`HEALTHCHECK --${flag}=${v}: expected a duration such as 30s or 1m30s`);
  return Math.round(Number(m[1]) * UNIT[m[2]!]!);
}

function command(s: StageState, ins: Instruction): string[] {
  return ins.json ?? [...s.shell, ins.args];
}

function setConfig(s: StageState, f: (c: ContainerConfig) => ContainerConfig): void {
  s.config = { ...s.config, config: f({ ...s.config.config }) };
}

/** Applies one instruction; layers are committed through commitStep (cached when the key is known). */
export async function applyInstruction(s: StageState, ins: Instruction, ctx: StepContext): Promise<void> {
  const vars = stageVars(s);
  const esc = ctx.input.dockerfile.escape;
  const word = (w: string) => expandWord(w, vars, esc);
  const note = (createdBy: string) =>
    s.history.push({ created_by: createdBy, comment: 'buildkit.dockerfile.v0', empty_layer: true });
  switch (ins.cmd) {
    case 'ENV': {
      const env = envMap(s.config);
      for (const [k, v] of keyValues(ins.args, vars, 'ENV', esc)) env.set(k, v);
      setConfig(s, (c) => ({ ...c, Env: [...env].map(([k, v]) => `${k}=${v}`) }));
      note(
        `ENV ${keyValues(ins.args, vars, 'ENV', esc)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
      return;
    }
    case 'ARG':
      for (const w of splitWords(ins.args, esc)) {
        const eq = w.indexOf('=');
        const name = eq < 0 ? w : w.slice(0, eq);
        const dflt = eq < 0 ? ctx.metaArgs.get(name) : word(w.slice(eq + 1));
        const v = ctx.input.buildArgs.get(name) ?? dflt;
        if (v !== undefined) s.args.set(name, v);
        else s.args.delete(name);
        ctx.usedArgs.add(name);
      }
      note(`ARG ${ins.args}`);
      return;
    case 'LABEL': {
      const pairs = keyValues(ins.args, vars, 'LABEL', esc);
      setConfig(s, (c) => ({ ...c, Labels: { ...c.Labels, ...Object.fromEntries(pairs) } }));
      note(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      return;
    }
    case 'MAINTAINER':
      s.config = { ...s.config, author: ins.args };
      note(`MAINTAINER ${ins.args}`);
      return;
    case 'USER': {
      const user = word(ins.args);
      setConfig(s, (c) => ({ ...c, User: user }));
      note(`USER ${user}`);
      return;
    }
    case 'EXPOSE': {
      const ports = splitWords(ins.args, esc).map(word);
      for (const p of ports)
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p))
          throw new BuildError(`EXPOSE ${p}: expected PORT[/PROTOCOL], e.g. 80 or 53/udp`);
      setConfig(s, (c) => ({
        ...c,
        ExposedPorts: {
          ...c.ExposedPorts,
          ...Object.fromEntries(ports.map((p) => [p.includes('/') ? p.toLowerCase() : `${p}/tcp`, {}])),
        },
      }));
      note(`EXPOSE map[${ports.map((p) => (p.includes('/') ? p : `${p}/tcp`) + ':{}').join(' ')}]`);
      return;
    }
    case 'VOLUME': {
      const vols = (ins.json ?? splitWords(ins.args, esc)).map(word);
      setConfig(s, (c) => ({ ...c, Volumes: { ...c.Volumes, ...Object.fromEntries(vols.map((v) => [v, {}])) } }));
      note(`VOLUME [${vols.join(' ')}]`);
      return;
    }
    case 'STOPSIGNAL': {
      const sig = word(ins.args);
      setConfig(s, (c) => ({ ...c, StopSignal: sig }));
      note(`STOPSIGNAL ${sig}`);
      return;
    }
    case 'SHELL':
      s.shell = ins.json!;
      setConfig(s, (c) => ({ ...c, Shell: ins.json! }));
      note(`SHELL [${ins.json!.join(' ')}]`);
      return;
    case 'CMD': {
      const cmd = command(s, ins);
      setConfig(s, (c) => ({ ...c, Cmd: cmd }));
      s.cmdSet = true;
      note(`CMD [${cmd.map((a) => JSON.stringify(a)).join(' ')}]`);
      return;
    }
    case 'ENTRYPOINT': {
      const ep = command(s, ins);
      setConfig(s, (c) => ({ ...c, Entrypoint: ep, ...(s.cmdSet ? {} : { Cmd: null }) }));
      note(`ENTRYPOINT [${ep.map((a) => JSON.stringify(a)).join(' ')}]`);
      return;
    }
    case 'ONBUILD':
      setConfig(s, (c) => ({ ...c, OnBuild: [...(c.OnBuild ?? []), ins.args] }));
      note(`ONBUILD ${ins.args}`);
      return;
    case 'HEALTHCHECK': {
      if (ins.args.toUpperCase() === 'NONE') setConfig(s, (c) => ({ ...c, Healthcheck: { Test: ['NONE'] } }));
      else {
        const m = /^CMD\s+([\s\S]+)$/i.exec(ins.args);
        if (!m) throw new BuildError('HEALTHCHECK takes NONE or [OPTIONS] CMD COMMAND');
        const inner = m[1]!.trim();
        let test: string[] = ['CMD-SHELL', inner];
        if (inner.startsWith('[')) test = ['CMD', ...(JSON.parse(inner) as string[])];
        const f = (n: string) => ins.flags.get(n)?.[0];
        const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: test };
        if (f('interval')) hc.Interval = duration('interval', f('interval')!);
        if (f('timeout')) hc.Timeout = duration('timeout', f('timeout')!);
        if (f('start-period')) hc.StartPeriod = duration('start-period', f('start-period')!);
        if (f('retries')) hc.Retries = Number(f('retries'));
        setConfig(s, (c) => ({ ...c, Healthcheck: hc }));
      }
      note(`HEALTHCHECK ${ins.args}`);
      return;
    }
    case 'WORKDIR': {
      const dir = posix.resolve(s.config.config?.WorkingDir || '/', word(ins.args));
      setConfig(s, (c) => ({ ...c, WorkingDir: dir }));
      const rel = insidePath(dir);
      // what to make is known from the pending layers' headers when nothing is unpacked yet: no unpacking (when a
      // later step reads the tree, only from headers kept already: else the tree, which that step would unpack)
      const view = await pendingView(s, ctx.input, s.treeAhead);
      const lazy = view && plainPath(view, rel, false);
      const made: string[] = [];
      if (!lazy) await ensureParents(await stageTree(s, ctx.input), `${rel}/x`, made);
      const exec = async (): Promise<Change> => {
        if (!lazy) return { paths: made, deleted: [] };
        const root = await scratchRoot(s, view!, rel);
        await ensureParents(root, `${rel}/x`);
        return scratchLayer(s, ctx.input, root, lazy.missing);
      };
      if ((lazy?.missing ?? made).length) await commitStep(s, ctx, `WORKDIR ${dir}`, '', exec);
      else note(`WORKDIR ${dir}`);
      return;
    }
    case 'COPY':
    case 'ADD':
      return copyStep(s, ins, ctx, word);
    case 'RUN':
      return runStep(s, ins, ctx);
    default:
      throw new BuildError(`${ins.cmd} is not supported by kura build`);
  }
}

async function copyStep(s: StageState, ins: Instruction, ctx: StepContext, word: (w: string) => string): Promise<void> {
  const flag = (n: string) => ins.flags.get(n)?.[0];
  const raw = ins.json ?? splitWords(ins.args, ctx.input.dockerfile.escape);
  if (raw.length < 2) throw new BuildError(`${ins.cmd} requires at least two arguments: SOURCE… DEST`);
  const heredocs = new Map<string, string>();
  for (const h of ins.heredocs) heredocs.set(h.name, h.expand ? word(h.body) : h.body);
  const words = raw.map((w) => (/^<<-?["']?[A-Za-z_]/.test(w) ? w.replace(/^<<-?["']?|["']$/g, '') : word(w)));
  const dest = words.at(-1)!;
  const srcs = words.slice(0, -1).filter((w) => !heredocs.has(w));
  const from = flag('from') ? word(flag('from')!) : undefined;
  const ignore = ctx.input.ignore;
  const excluded = ignore ? { excluded: (p: string) => ignore.excludes(p), walkExcluded: ignore.hasExceptions } : {};
  const context: CopySource = { root: ctx.input.context, ...excluded, keepOwners: false };
  // another stage or image is read (unpacked) only when the step runs: its key is its layers' digests
  const sourcesNow = async (): Promise<CopySource[]> =>
    from !== undefined ? [{ root: await ctx.rootfsOf(from), keepOwners: true }] : [context];
  // --link: the files become a layer made on an empty directory, independent of the layers below (as BuildKit)
  const link = flag('link') !== undefined && flag('link') !== 'false';
  const chown = flag('chown') ? await owner(s, ctx, word(flag('chown')!), link, ins.cmd) : undefined;
  const chmodFlag = flag('chmod');
  if (chmodFlag !== undefined && !/^[0-7]{3,4}$/.test(chmodFlag))
    throw new BuildError(`--chmod=${chmodFlag}: expected an octal mode such as 755`);
  const urls = ins.cmd === 'ADD' ? srcs.filter((w) => /^https?:\/\//.test(w)) : [];
  if (flag('checksum') && urls.length !== 1) throw new BuildError('ADD --checksum needs exactly one URL source');
  const local = srcs.filter((w) => !urls.includes(w));
  const epoch = new Date((ctx.input.epoch ?? Math.floor(Date.now() / 1000)) * 1000);
  const key = from !== undefined ? await ctx.treeKey(from) : await ctx.inputsDigest([context], local);
  const createdBy = `${ins.original.replace(/\s+/g, ' ')} # buildkit`;
  const workdir = s.config.config?.WorkingDir ?? '/';
  const linkInputs = link ? `:${workdir}:${JSON.stringify({ chown, chmodFlag, epoch: ctx.input.epoch })}` : '';
  const inputs = `${key}:${JSON.stringify(words)}:${urls.join(',')}${linkInputs}`;
  const exec = async () => {
    // without --link, a COPY onto a tree not unpacked yet runs in a scratch root that reproduces what the copy can
    // meet (the destination, its parents, what is below it), known from the layers' headers; else in the tree (also
    // when a later step of the stage reads the tree: it misses the cache too, as the chain changed, and unpacks)
    const destRel = insidePath(dest.startsWith('/') ? dest : posix.join(workdir, dest));
    const view = link || ins.cmd !== 'COPY' || s.treeAhead ? undefined : await pendingView(s, ctx.input);
    const lazy = view && plainPath(view, destRel, true) ? await scratchRoot(s, view, destRel) : undefined;
    const root = link ? await mkdtemp(join(s.tmp, 'link-')) : (lazy ?? (await stageTree(s, ctx.input)));
    const req = {
      sources: local,
      dest,
      workdir,
      ...(chown ? { chown } : {}),
      ...(chmodFlag ? { chmod: parseInt(chmodFlag, 8) } : {}),
      extract: ins.cmd === 'ADD',
      heredocs,
      ...(flag('parents') === 'true' ? { parents: true } : {}),
    };
    const paths = local.length || heredocs.size ? await copyInto(root, await sourcesNow(), req, epoch) : [];
    for (const u of urls) paths.push(...(await addUrl(root, u, req, flag('checksum'), join(s.tmp, 'url'))));
    if (!link && !lazy) return { paths, deleted: [] };
    // the layer made on its own, applied to the stage's rootfs (when a step reads it) as a pulled layer would be
    return scratchLayer(s, ctx.input, root, paths);
  };
  await commitStep(s, ctx, createdBy, inputs, exec, { independent: link });
}

/** `--chown`: names from the image's /etc/passwd and /etc/group; with `--link` only numeric ids (no image below). */
async function owner(
  s: StageState,
  ctx: StepContext,
  v: string,
  link: boolean,
  cmd: string,
): Promise<{ uid: number; gid: number }> {
  if (!link) return userIds(await stageTree(s, ctx.input), v, true);
  const m = /^(\d+)(?::(\d+))?$/.exec(v);
  if (!m)
    throw new BuildError(
      `${cmd} --link --chown=${v}: a --link layer is made without the image below it, so names cannot be looked ` +
        'up in its /etc/passwd: use numeric ids (--chown=1000:1000), or drop --link',
    );
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}
