/** `kura build`: a Dockerfile built without a daemon (src/build/), written to the local store or any location. */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Artifact, Platform } from '../../oci/artifact.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../../oci/platform.js';
import { UsageError } from '../errors.js';
import { collect, locationOptions, registryFlags, type RegistryFlags } from '../options.js';
import { openStore, withStore, type StoreOptions } from '../store.js';
import type { HookFlags } from './build-hooks.js';

interface BuildFlags extends RegistryFlags, StoreOptions, HookFlags {
  file?: string;
  tag: string[];
  buildArg: string[];
  label: string[];
  target?: string;
  platform: string[];
  cache?: boolean;
  reproducible?: boolean;
  secret: string[];
  quiet?: boolean;
  cacheTo: string[];
  cacheFrom: string[];
}

function pairs(values: string[], flag: string, fromEnv: boolean): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of values) {
    const i = v.indexOf('=');
    if (i === 0 || (i < 0 && !fromEnv)) throw new UsageError(`${flag} ${v}: expected KEY=VALUE`);
    if (i < 0) {
      if (process.env[v] !== undefined) m.set(v, process.env[v]!);
    } else m.set(v.slice(0, i), v.slice(i + 1));
  }
  return m;
}

/** `--secret id=ID,src=FILE` or `id=ID,env=VAR` (docker buildx's forms). */
function secrets(values: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of values) {
    const o = new Map(v.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as const));
    const id = o.get('id');
    const src = o.get('src') ?? o.get('source');
    if (!id || (!src && !o.get('env')))
      throw new UsageError(`--secret ${v}: expected id=ID,src=FILE or id=ID,env=VARIABLE`);
    if (src) m.set(id, resolve(src));
    else {
      const value = process.env[o.get('env')!];
      if (value === undefined) throw new UsageError(`--secret ${v}: the variable ${o.get('env')} is not set`);
      m.set(id, `env:${value}`);
    }
  }
  return m;
}

/** `--platform a,b --platform c` → each platform once, in order; none: this machine's. */
function platformsOf(values: string[]): Platform[] {
  const out = new Map<string, Platform>();
  for (const v of values.flatMap((x) => x.split(',')).filter((x) => x.trim()))
    out.set(formatPlatform(parsePlatform(v)), parsePlatform(v));
  return out.size ? [...out.values()] : [hostPlatform()];
}

function epochOf(o: BuildFlags): number | undefined {
  const e = process.env.SOURCE_DATE_EPOCH;
  if (e !== undefined && e !== '') {
    if (!/^\d+$/.test(e)) throw new UsageError(`SOURCE_DATE_EPOCH is "${e}": set it to seconds since 1970`);
    return Number(e);
  }
  return o.reproducible ? 0 : undefined;
}

export function registerBuild(program: Command): void {
  const cmd = program
    .command('build <context>')
    .description('build an image from a Dockerfile without a daemon (RUN steps run in runc), into the local store')
    .option('-f, --file <path>', 'the Dockerfile (default: CONTEXT/Dockerfile)')
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option(
      '--build-arg <key[=value]>',
      'set a build-time ARG (KEY alone: from the environment; repeatable)',
      collect,
      [],
    )
    .option('--label <key=value>', 'set a label on the image (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage (name or index), not the last')
    .option(
      '--platform <os/arch[,os/arch…]>',
      "the image's platform (default: this machine's); several (comma-separated or repeated) build an index",
      collect,
      [],
    )
    .option(
      '-o, --output <location>',
      'write the image here too: oci:DIR:TAG, docker-archive:FILE, docker://…',
      collect,
      [],
    )
    .option('--push', 'push the image to the registry of each --tag')
    .option('--no-cache', 'run every step, whatever the layer cache has')
    .option('--reproducible', 'clamp every timestamp to SOURCE_DATE_EPOCH, or 0 when it is unset')
    .option(
      '--secret <id=ID,src=FILE>',
      'a secret for RUN --mount=type=secret (never in a layer; repeatable)',
      collect,
      [],
    )
    .option(
      '--cache-to <type=registry,ref=REF|type=local,dest=DIR>',
      'export the layer cache of this build (repeatable)',
      collect,
      [],
    )
    .option(
      '--cache-from <type=registry,ref=REF|type=local,src=DIR>',
      'import a layer cache before building (repeatable)',
      collect,
      [],
    )
    .option('--sbom', 'attach an SPDX SBOM (kura sbom --attach) to the pushed or written image')
    .option('--sign', 'sign the pushed image (kura sign) with --key')
    .option('--key <file>', 'the signing key of --sign (cosign.key or a PEM key)')
    .option('--scan', 'scan the pushed or written image for vulnerabilities (kura scan) and print the report')
    .option('-q, --quiet', 'print only the image digest');
  registryFlags(withStore(cmd), { mirror: true }).action(async (context: string, o: BuildFlags) => {
    const [{ build }, { parseDockerfile }, { IgnoreMatcher, readIgnoreFile }, locations] = await Promise.all([
      import('../../build/builder.js'),
      import('../../build/dockerfile.js'),
      import('../../build/dockerignore.js'),
      import('../../transports/locations.js'),
    ]);
    const ctxDir = resolve(context);
    if (!statSync(ctxDir, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(`the build context ${context} is not a directory: give the directory to build from`);
    const file = o.file ?? join(ctxDir, 'Dockerfile');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new UsageError(`cannot read the Dockerfile ${file}: give its path with -f`);
    }
    const ignoreText = (() => {
      for (const f of [`${file}.dockerignore`, join(ctxDir, '.dockerignore')]) {
        try {
          return readFileSync(f, 'utf8');
        } catch {
          // next
        }
      }
      return undefined;
    })();
    const hooks = await import('./build-hooks.js');
    hooks.checkHooks(o, o.push ? o.tag : []);
    const platforms = platformsOf(o.platform);
    const store = await openStore(o);
    const say = (line: string) => {
      if (!o.quiet) process.stderr.write(`${line}\n`);
    };
    const epoch = epochOf(o);
    const { secretFiles, cleanup } = await secretsOnDisk(secrets(o.secret));
    const buildArgs = pairs(o.buildArg, '--build-arg', true);
    const dockerfile = parseDockerfile(text, o.file ?? 'Dockerfile');
    const images: Artifact[] = [];
    const cacheDir = join(store.dir, 'build-cache');
    const cache = await import('./build-cache.js');
    const cacheTo = o.cacheTo.map((c) => cache.cacheLocation(c, '--cache-to'));
    for (const from of o.cacheFrom.map((c) => cache.cacheLocation(c, '--cache-from'))) {
      // as buildx: a cache that cannot be read is a warning, and the build goes on without it
      try {
        const a = await locations.readImage(await locations.openLocation(from, locationOptions(o)));
        const { importCachedLayer } = await import('../../build/step.js');
        const n = await cache.importCache(a, (key, gz) => importCachedLayer(cacheDir, key, gz));
        say(`imported ${n} cached layers from ${from}`);
      } catch (e) {
        process.stderr.write(`kura: warning: --cache-from ${from}: ${e instanceof Error ? e.message : e}\n`);
      }
    }
    const cacheEntries = new Map<string, string>();
    try {
      // each platform is built on its own (as buildx does), in turn: RUN for a foreign one needs binfmt emulation
      for (const platform of platforms) {
        if (platforms.length > 1) say(`[${formatPlatform(platform)}]`);
        images.push(
          await build({
            dockerfile,
            context: ctxDir,
            ...(ignoreText !== undefined ? { ignore: new IgnoreMatcher(readIgnoreFile(ignoreText)) } : {}),
            buildArgs,
            ...(o.target !== undefined ? { target: o.target } : {}),
            platform,
            labels: Object.fromEntries(pairs(o.label, '--label', false)),
            ...(epoch !== undefined ? { epoch } : {}),
            secrets: secretFiles,
            cacheDir,
            onCacheEntry: (key, file) => cacheEntries.set(key, file),
            noCache: o.cache === false,
            openImage: async (ref) => {
              const loc = await locations.openLocation(ref, {
                ...locationOptions(o),
                store: o.store,
                preferLocal: true,
              });
              return locations.readImage(loc);
            },
            onStep: say,
            onOutput: (c) => {
              if (!o.quiet) process.stderr.write(c);
            },
            onWarning: (m) => process.stderr.write(`kura: warning: ${m}\n`),
          }),
        );
      }
    } catch (e) {
      // the first line goes to the error boundary; a failing RUN's last lines of output come before it
      const rest = e instanceof Error ? e.message.split('\n').slice(1) : [];
      if (rest.length) process.stderr.write(`${rest.join('\n')}\n`);
      throw e;
    } finally {
      await cleanup();
    }
    const { createIndex } = await import('../../oci/mutate.js');
    // several platforms: an OCI index, its children by digest, each with the platform it was built for
    const image =
      images.length === 1
        ? images[0]!
        : await createIndex(
            images.map((artifact, i) => ({ artifact, platform: platforms[i]! })),
            { mediaType: 'oci' },
          );
    const names = o.tag;
    if (names.length === 0 || images.length > 1)
      for (const n of names.length ? names : [image.descriptor.digest]) await store.write(n, image);
    else for (const name of names) await store.writeImage(name, image, { repoDigest: false, platform: platforms[0]! });
    const written = [...o.output, ...(o.push ? names.map((n) => `docker://${n}`) : [])];
    for (const out of written) {
      const loc = await locations.openLocation(out, { ...locationOptions(o), forWriting: true, store: o.store });
      await locations.writeImage(loc, image);
      say(`wrote ${out}`);
    }
    await hooks.runHooks(o, written, images.length > 1);
    for (const to of cacheTo) {
      const loc = await locations.openLocation(to, { ...locationOptions(o), forWriting: true });
      await locations.writeImage(loc, await cache.cacheArtifact(cacheEntries));
      say(`exported ${cacheEntries.size} cached layers to ${to}`);
    }
    say(`COMMIT ${names.join(', ') || '(no name)'}`);
    process.stdout.write(`${image.descriptor.digest}\n`);
  });
}

/** Secrets given by value (env=) are written to files in a private directory for the run, removed after. */
async function secretsOnDisk(
  m: Map<string, string>,
): Promise<{ secretFiles: Map<string, string>; cleanup(): Promise<void> }> {
  const fs = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  let dir: string | undefined;
  const out = new Map<string, string>();
  for (const [id, v] of m) {
    if (!v.startsWith('env:')) {
      out.set(id, v);
      continue;
    }
    dir ??= await fs.mkdtemp(join(tmpdir(), 'kura-secrets-'));
    await fs.writeFile(join(dir, id), v.slice(4), { mode: 0o400 });
    out.set(id, join(dir, id));
  }
  return { secretFiles: out, cleanup: async () => void (dir && (await fs.rm(dir, { recursive: true, force: true }))) };
}
