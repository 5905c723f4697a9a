/** `kura copy`: an image, or with --all-tags a whole repository, between any two locations. */
import type { Command } from 'commander';
import { canClose, canListTags, type Artifact } from '../../oci/artifact.js';
import { UsageError } from '../errors.js';
import { progress } from '../format/progress.js';
import { collect, emitResult, NDJSON_HELP, outputFlags, registryFlags } from '../options.js';

/**
 * The platforms a copy keeps: all of an index by default; one `--platform` picks that image
 * alone (like crane); several make a filtered index (like regctl --platforms).
 */
export async function selectPlatforms(a: Artifact, platforms: string[]): Promise<Artifact> {
  if (!platforms.length) return a;
  const [{ isIndex, resolvePlatform }, { filterIndex }, { parsePlatform }] = await Promise.all([
    import('../../oci/image.js'),
    import('../../oci/mutate.js'),
    import('../../oci/platform.js'),
  ]);
  const wanted = platforms.map(parsePlatform);
  if (!isIndex(a)) return resolvePlatform(a, wanted[0]);
  return wanted.length === 1 ? resolvePlatform(a, wanted[0]) : filterIndex(a, wanted);
}

/** `kura copy SRC DST`: an image (all platforms of an index) between any two transports. */
export function registerCopy(program: Command): void {
  const cmd = program
    .command('copy <src> <dst>')
    .description(
      'copy an image, with every platform of an index, between docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], ' +
        'docker-archive:FILE[:REF] and local:NAME (the local image store); children go by digest and only the root ' +
        'is tagged',
    )
    .option(
      '--platform <os/arch[/variant]>',
      'copy only this platform of an index (repeatable: several make a filtered index)',
      collect,
      [],
    )
    .option('--src-creds <user:password>', 'credentials for a source registry')
    .option('--dest-creds <user:password>', 'credentials for a destination registry');
  registryFlags(cmd, { creds: false });
  outputFlags(cmd, { json: NDJSON_HELP, quiet: 'no progress' })
    .option('--store <dir>', 'the local image store, for local:NAME locations')
    .option(
      '--dest-compress-format <gzip|zstd>',
      'recompress layers that are not already in this format (zstd needs the zstd program); the image digest changes',
    )
    .option('--dest-compress-level <n>', 'compression level for --dest-compress-format', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1 || n > 19)
        throw new UsageError(`--dest-compress-level takes 1 to 19, not "${v}"`);
      return n;
    })
    .option('-a, --all-tags', 'copy every tag of the source repository (or layout) to the same tags at the destination')
    .option(
      '-j, --jobs <n>',
      'images copied at once with --all-tags (each also moves its layers in parallel)',
      (v) => {
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < 1 || n > 64)
          throw new UsageError(`--jobs takes a number from 1 to 64, not "${v}"`);
        return n;
      },
      4,
    )
    .option(
      '--no-referrers',
      'copy the image alone, without its signatures, attestations, SBOMs and other referrers (cosign tags and OCI ' +
        'referrers)',
    )
    .option(
      '--policy <file>',
      'copy only if the source satisfies this containers policy.json (insecureAcceptAnything, reject, sigstoreSigned)',
    )
    .action(
      async (
        src: string,
        dst: string,
        opts: {
          referrers: boolean;
          policy?: string;
          destCompressFormat?: string;
          destCompressLevel?: number;
          allTags?: boolean;
          jobs: number;
          store?: string;
          platform: string[];
          srcCreds?: string;
          destCreds?: string;
          plainHttp?: boolean;
          insecure?: boolean;
          caFile?: string;
          registryMirror?: string[];
          json?: boolean;
          quiet?: boolean;
        },
      ) => {
        const common = {
          plainHttp: opts.plainHttp,
          insecure: opts.insecure,
          caFile: opts.caFile,
          store: opts.store,
          registryMirrors: opts.registryMirror,
        };
        const { openLocation } = await import('../../transports/locations.js');
        const from = await openLocation(src, { ...common, creds: opts.srcCreds, credsFlag: '--src-creds' });
        const to = await openLocation(dst, {
          ...common,
          creds: opts.destCreds,
          credsFlag: '--dest-creds',
          forWriting: true,
        });
        const format = opts.destCompressFormat;
        if (format !== undefined && format !== 'gzip' && format !== 'zstd')
          throw new UsageError(`--dest-compress-format takes gzip or zstd, not "${format}"`);
        const cleanups: (() => void)[] = [];
        /** The artifact as it goes out: its platforms chosen, its layers recompressed when asked. */
        const prepare = async (a: Artifact): Promise<Artifact> => {
          const picked = await selectPlatforms(a, opts.platform);
          if (!format) return picked;
          const { recompressLayers } = await import('../../oci/recompress.js');
          const r = await recompressLayers(picked, format, opts.destCompressLevel);
          cleanups.push(r.cleanup);
          return r.artifact;
        };
        process.once('exit', () => cleanups.forEach((c) => c()));
        const p = progress(opts);
        // Signatures name digests: a recompressed copy has new ones, so its graph stays behind.
        const graph = opts.referrers && !format ? await import('./copy-graph.js') : undefined;
        const result = (d: { digest: string; mediaType: string; size: number }, tag?: string) => {
          const fields = { ...(tag ? { tag } : {}), digest: d.digest, mediaType: d.mediaType, size: d.size };
          emitResult(opts, fields, tag ? `${tag} ${d.digest}` : d.digest);
        };
        if (opts.allTags) {
          if (!from.refDefaulted || !to.refDefaulted)
            throw new UsageError(
              '--all-tags copies a whole repository: name the source and destination without a tag or digest',
            );
          if (!canListTags(from.medium))
            throw new UsageError(
              `${from.display} cannot list its tags; --all-tags takes a registry repository or an OCI layout`,
            );
          const { copyRepository } = await import('../../transports/copy-repository.js');
          const policy = opts.policy;
          const written = await copyRepository(from.medium, to.medium, {
            jobs: opts.jobs,
            onProgress: p.onProgress,
            beforeTag: async (t) => {
              if (policy) await (await import('./copy-graph.js')).checkCopyPolicy(from, t, policy);
            },
            prepare: (a) => prepare(a),
            afterTag: async (t, a, d) => {
              await graph?.copyAttached(from, to, a, t, opts);
              result(d, t);
            },
          });
          if (!written.length) throw new Error(`${from.display} has no tags to copy`);
          if (canClose(to.medium)) await to.medium.close();
          p.finish();
          return;
        }
        if (opts.policy) await (await import('./copy-graph.js')).checkCopyPolicy(from, from.ref, opts.policy);
        const { readImage, writeImage } = await import('../../transports/locations.js');
        const artifact = await prepare(await readImage(from));
        const d = await writeImage(to, artifact, { onProgress: p.onProgress });
        await graph?.copyAttached(from, to, artifact, undefined, opts);
        if (canClose(to.medium)) await to.medium.close();
        p.finish();
        result(d);
      },
    );
}
