/** The RUN instruction: its command (shell, exec or heredoc), its --mount options, the container run and its diff. */
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Instruction } from './dockerfile.js';
import { expandWord } from './lex.js';
import { diffSnapshots, insidePath, snapshot } from './rootfs.js';
import { runContainer, userIds, type RunMount } from './run.js';
import { BuildError, envMap, stageVars, type StageState } from './state.js';
import { commitStep, stageTree, type StepContext } from './step.js';

const ONLY_HEREDOC = /^<<-?\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/;

/** A RUN's argv: the exec form as is; a lone heredoc is the script; else the line and its heredocs go to the shell. */
function argv(s: StageState, ins: Instruction): string[] {
  if (ins.json) return ins.json;
  if (ins.heredocs.length === 1 && ONLY_HEREDOC.test(ins.args)) return [...s.shell, ins.heredocs[0]!.body];
  const docs = ins.heredocs.map((h) => `\n${h.body}${h.name}`).join('');
  return [...s.shell, ins.args + docs];
}

function mountOptions(spec: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    m.set(i < 0 ? part : part.slice(0, i), i < 0 ? 'true' : part.slice(i + 1));
  }
  return m;
}

async function mounts(
  s: StageState,
  ins: Instruction,
  ctx: StepContext,
): Promise<{ mounts: (RunMount | (() => Promise<RunMount>))[]; key: string[] }> {
  // a bind from a stage or image is made when the RUN runs (its tree unpacked then), not for a cache hit
  const out: (RunMount | (() => Promise<RunMount>))[] = [];
  const key: string[] = [];
  const vars = stageVars(s);
  const workdir = s.config.config?.WorkingDir || '/';
  for (const spec of ins.flags.get('mount') ?? []) {
    const o = mountOptions(expandWord(spec, vars, ctx.input.dockerfile.escape));
    const type = o.get('type') ?? 'bind';
    const targetOf = (d?: string) => {
      const t = o.get('target') ?? o.get('dst') ?? o.get('destination') ?? d;
      if (!t) throw new BuildError(`RUN --mount=${spec}: target= is required`);
      return posix.resolve(workdir, t);
    };
    if (type === 'cache') {
      const target = targetOf();
      const id = o.get('id') ?? target;
      const base = ctx.input.cacheDir ?? s.tmp;
      const source = join(base, 'mounts', createHash('sha256').update(id).digest('hex').slice(0, 32));
      await mkdir(source, { recursive: true });
      out.push({ source, target, readonly: o.get('readonly') === 'true' || o.get('ro') === 'true', file: false });
      key.push(`cache:${id}:${target}`);
    } else if (type === 'secret') {
      const id = o.get('id') ?? posix.basename(o.get('target') ?? '');
      if (!id) throw new BuildError(`RUN --mount=${spec}: a secret needs id=`);
      const file = ctx.input.secrets.get(id);
      if (!file) {
        if (o.get('required') === 'true')
          throw new BuildError(`secret ${id} is required but was not given: pass --secret id=${id},src=FILE`);
        continue;
      }
      out.push({ source: file, target: targetOf(`/run/secrets/${id}`), readonly: true, file: true });
      key.push(`secret:${id}`); // the name only: a secret's content never enters a key, a layer or the history
    } else if (type === 'bind') {
      const from = o.get('from');
      const rel = o.get('source') ?? o.get('src') ?? '';
      const rw = o.get('rw') === 'true' || o.get('readwrite') === 'true';
      const target = targetOf();
      out.push(async () => {
        let source = join(from ? await ctx.rootfsOf(from) : ctx.input.context, insidePath(rel));
        if (rw) {
          // writes to a read-write bind are thrown away, as BuildKit does: the container gets a copy
          const copy = await mkdtemp(join(s.tmp, 'bind-'));
          await cp(source, copy, { recursive: true, verbatimSymlinks: true });
          source = copy;
        }
        return { source, target, readonly: !rw, file: false };
      });
      const content = from
        ? await ctx.treeKey(from)
        : await ctx.inputsDigest([{ root: ctx.input.context, keepOwners: true }], [o.get('source') ?? '.']);
      key.push(`bind:${from ?? 'context'}:${o.get('source') ?? ''}:${content}`);
    } else throw new BuildError(`RUN --mount type=${type} is not supported: use cache, secret or bind`);
  }
  return { mounts: out, key };
}

/** Runs a RUN instruction in a container and commits what it changed as a layer (whiteouts for deletions). */
export async function runStep(s: StageState, ins: Instruction, ctx: StepContext): Promise<void> {
  const args = argv(s, ins);
  const { mounts: made, key } = await mounts(s, ins, ctx);
  const env = new Map([...s.args, ...envMap(s.config)]);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  const createdBy = ins.json ? `RUN ${JSON.stringify(ins.json)} # buildkit` : `RUN ${args.join(' ')} # buildkit`;
  const flags =
    ins.flags
      .get('mount')
      ?.map((m) => `--mount=${m} `)
      .join('') ?? '';
  await commitStep(s, ctx, createdBy.replace(/^RUN /, `RUN ${flags}`), key.join('\n'), async () => {
    await stageTree(s, ctx.input); // the cached layers below, unpacked now that a command reads them
    const ms: RunMount[] = [];
    for (const m of made) ms.push(typeof m === 'function' ? await m() : m);
    const before = await snapshot(s.rootfs);
    const ids = await userIds(s.rootfs, s.config.config?.User ?? '');
    const r = await runContainer(
      s.rootfs,
      {
        args,
        env: [...env].map(([k, v]) => `${k}=${v}`),
        cwd: s.config.config?.WorkingDir || '/',
        ...ids,
        mounts: ms,
        architecture: s.config.architecture,
      },
      // each line as it comes, after the step's tag (BuildKit's plain progress shows `#5 0.21 LINE`)
      (line) => ctx.input.onOutput?.(Buffer.from(`${s.step ?? 'RUN'} | ${line}\n`)),
    );
    if (r.code !== 0) {
      const tail = r.tail.length ? ` (its last lines of output above)\n${r.tail.map((l) => `  ${l}`).join('\n')}` : '';
      const what = ins.json ? JSON.stringify(ins.json) : ins.args;
      throw new BuildError(`RUN ${what} failed with exit code ${r.code}${tail}`);
    }
    const { changed, deleted } = diffSnapshots(before, await snapshot(s.rootfs));
    return { paths: changed, deleted };
  });
}
