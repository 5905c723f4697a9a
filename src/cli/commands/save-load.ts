/** `kura save` and `kura load`: docker-archives in and out of the local image store. */
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { familiar } from '../../oci/familiar.js';
import type { Location } from '../../transports/locations.js';
import { UsageError } from '../errors.js';
import { progress } from '../format/progress.js';
import { emitResult, jsonFlag, locationOptions, outputFlags, type RegistryFlags, registryFlags } from '../options.js';
import { openStore, withStore, type StoreOptions } from '../store.js';
import { parsePlatform } from '../../oci/platform.js';
import type { Compression } from '../../oci/compression.js';
import { canClose, type Artifact } from '../../oci/artifact.js';

function compressionFor(file: string | undefined, asked: string | undefined): Compression {
  if (asked) {
    if (asked !== 'gzip' && asked !== 'zstd' && asked !== 'none')
      throw new UsageError(`--compress takes gzip, zstd or none, not "${asked}"`);
    return asked;
  }
  if (file && /\.(gz|tgz)$/.test(file)) return 'gzip';
  if (file && /\.(zst|zstd|tzst)$/.test(file)) return 'zstd';
  return 'none';
}

/** The RepoTag an image is saved under: its name as given; an image ID or digest saves it unnamed, as docker does. */
async function repoTagOf(arg: string, loc: Location): Promise<string> {
  const { LocalStore, normalizeName } = await import('../../transports/local-store/index.js');
  if (loc.medium instanceof LocalStore) {
    const rec = await loc.medium.find(arg);
    let name: string | undefined;
    try {
      name = normalizeName(arg).name;
    } catch {
      name = undefined;
    }
    return name && rec?.names.includes(name) ? name : '';
  }
  return loc.image?.tag ? `${loc.image.registry}/${loc.image.repository}:${loc.image.tag}` : '';
}

type SaveOpts = StoreOptions &
  RegistryFlags & {
    output?: string;
    compress?: string;
    platform?: string;
    format?: string;
    referrers: boolean;
    quiet?: boolean;
    json?: boolean;
  };

/**
 * `kura save -o FILE IMAGE...`: images of the local store (or any location) into one docker-archive, Docker 25's shape,
 * or with `--format oci-archive` into one oci-archive with their signatures, attestations and referrers.
 */
export function registerSave(program: Command): void {
  const save = registryFlags(withStore(program.command('save <images...>')));
  save
    .description(
      'write images (from the local image store, or any location such as docker://REF) into one docker-archive tar ' +
        'that docker load and skopeo read, or with --format oci-archive into one OCI archive that keeps their ' +
        'signatures, attestations and referrers',
    )
    .option('-o, --output <file>', 'write to FILE (default, or -: stdout when it is not a terminal)')
    .option(
      '--compress <gzip|zstd|none>',
      'compress the whole archive (default: from the file name: .gz → gzip, .zst → zstd)',
    )
    .option(
      '--platform <os/arch[/variant]>',
      "the platform to save from a multi-platform index (default: this machine's)",
    )
    .option('--format <docker-archive|oci-archive>', 'the archive written (default docker-archive)')
    .option(
      '--no-referrers',
      'oci-archive: save the images alone, without their signatures, attestations, SBOMs and other referrers; ' +
        'docker-archive: no warning about them',
    )
    .option('-q, --quiet', 'no progress');
  outputFlags(save, { json: 'with -o: NDJSON progress events and a result line on stdout' }).action(
    async (images: string[], o: SaveOpts) => {
      if (o.output === '-') delete o.output;
      if (o.json && !o.output) throw new UsageError('--json needs -o FILE: without it stdout carries the archive');
      const format = o.format ?? 'docker-archive';
      if (format !== 'docker-archive' && format !== 'oci-archive')
        throw new UsageError(`--format takes docker-archive or oci-archive, not "${format}"`);
      const compression = compressionFor(o.output, o.compress);
      if (format === 'oci-archive' && compression !== 'none')
        throw new UsageError('an oci-archive is written as a plain tar: drop --compress (or the .gz/.zst name)');
      if (!o.output && process.stdout.isTTY)
        throw new Error('refusing to write an archive to a terminal; use -o FILE or redirect stdout');
      const tmp = o.output ? undefined : mkdtempSync(join(tmpdir(), 'kura-save-'));
      const file = o.output ?? join(tmp!, 'out.tar');
      try {
        const { DockerArchiveWriter } = await import('../../transports/archive/index.js');
        const { openLocation, readImage } = await import('../../transports/locations.js');
        const graph = await import('./save-graph.js');
        const oci =
          format === 'oci-archive' ? await openLocation(`oci-archive:${file}:latest`, { forWriting: true }) : undefined;
        const writer = oci
          ? oci.medium
          : new DockerArchiveWriter(file, {
              compression,
              ...(o.platform ? { platform: parsePlatform(o.platform) } : {}),
            });
        const p = progress({ quiet: o.quiet, json: o.json });
        const saved: {
          image: string;
          name: string;
          digest: string;
          ref: string;
          from: Location;
          artifact: Artifact;
        }[] = [];
        for (const img of images) {
          const from = await openLocation(img, { preferLocal: true, store: o.store, ...locationOptions(o) });
          let artifact = await readImage(from);
          const name = await repoTagOf(img, from);
          let ref = name;
          if (oci) {
            artifact = await (await import('./copy.js')).selectPlatforms(artifact, o.platform ? [o.platform] : []);
            ref = graph.ociArchiveRef(from, name, artifact);
            graph.checkDistinctRefs([...saved, { image: img, ref }]);
          }
          await writer.write(ref, artifact, { onProgress: p.onProgress });
          if (oci && o.referrers) await (await import('./copy-graph.js')).copyAttached(from, oci, artifact, ref, o);
          saved.push({ image: img, name, digest: artifact.descriptor.digest, ref, from, artifact });
        }
        if (!oci && o.referrers && !o.quiet) await graph.warnLeftBehind(o.output ?? 'on stdout', saved);
        if (canClose(writer)) await writer.close();
        p.finish();
        emitResult(o, {
          file: o.output,
          ...(oci ? { format } : {}),
          images: saved.map((s) => ({
            image: s.image,
            name: s.name,
            digest: s.digest,
            ...(oci ? { ref: s.ref } : {}),
          })),
        });
        if (tmp) await pipeline(createReadStream(file), process.stdout);
      } finally {
        if (tmp) rmSync(tmp, { recursive: true, force: true });
      }
    },
  );
}

/**
 * `kura load -i FILE`: every image of a docker-archive (any of its four shapes, compressed or not) into the local
 * store.
 */
export function registerLoad(program: Command): void {
  withStore(program.command('load'))
    .description(
      'load the images of a docker-archive or OCI archive (docker save, Docker 25+, containerd, crane, skopeo; gzip ' +
        'or zstd) into the local image store',
    )
    .option('-i, --input <file>', 'read from FILE (default, or -: stdin)')
    .option(
      '--platform <os/arch[/variant]>',
      "the platform to keep from a multi-platform image (default: this machine's)",
    )
    .option('-q, --quiet', 'print only the loaded names')
    .addOption(jsonFlag('one JSON object per loaded image on stdout'))
    .action(async (o: StoreOptions & { input?: string; platform?: string; quiet?: boolean; json?: boolean }) => {
      let tmp: string | undefined;
      let file = o.input === '-' ? undefined : o.input;
      if (!file) {
        if (process.stdin.isTTY)
          throw new Error('no archive on stdin; use -i FILE or pipe one in (kura load < image.tar)');
        tmp = mkdtempSync(join(tmpdir(), 'kura-load-'));
        file = join(tmp, 'in.tar');
        await pipeline(process.stdin, createWriteStream(file, { mode: 0o600 }));
      }
      const { DockerArchive } = await import('../../transports/archive/index.js');
      const { normalizeName } = await import('../../transports/local-store/index.js');
      const archive = new DockerArchive(file);
      const store = await openStore(o);
      try {
        const list = await archive.images();
        if (!list.length)
          throw new Error(
            `${o.input && o.input !== '-' ? o.input : 'stdin'} holds no images (no manifest.json or index.json ` +
              `entries)`,
          );
        for (const [i, img] of list.entries()) {
          const artifact = await archive.get(img.manifestDigest ?? `@${i}`);
          const platform = o.platform ? parsePlatform(o.platform) : undefined;
          const names = img.repoTags.map((t) => normalizeName(t).name);
          // A loaded image has no repo digest until it is pushed (docker load's rule): none was ever in a registry.
          const opts = { repoDigest: false as const, ...(platform ? { platform } : {}) };
          if (names.length === 0) {
            await store.write(artifact.descriptor.digest, artifact);
            const rec = await store.find(artifact.descriptor.digest);
            const id = rec?.configDigest ?? img.configDigest;
            process.stdout.write(o.json ? JSON.stringify({ id }) + '\n' : `Loaded image ID: ${id}\n`);
            continue;
          }
          for (const name of names) {
            const r = await store.writeImage(name, artifact, opts);
            process.stdout.write(
              o.json
                ? JSON.stringify({ name, id: r.image.configDigest, digest: r.image.digest }) + '\n'
                : o.quiet
                  ? `${familiar(name)}\n`
                  : `Loaded image: ${familiar(name)}\n`,
            );
          }
        }
      } finally {
        await archive.close();
        if (tmp) rmSync(tmp, { recursive: true, force: true });
      }
    });
}
