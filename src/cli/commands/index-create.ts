/** `kura index create`: a multi-platform index from per-platform images. */
import type { Command } from 'commander';
import type { IndexEntry } from '../../oci/mutate.js';
import { UsageError } from '../errors.js';
import { progress } from '../format/progress.js';
import { collect, emitResult, locationOptions, NDJSON_HELP, outputFlags, registryFlags } from '../options.js';
import type { RegistryFlags } from '../options.js';

function annotations(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw new UsageError(`annotation "${a}" must be KEY=VALUE`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

/**
 * `kura index create -t TARGET SRC...`: a multi-platform index from per-platform images, like `buildx imagetools
 * create`.
 */
export function registerIndexCreate(program: Command): void {
  const index =
    program.commands.find((c) => c.name() === 'index') ??
    program.command('index').description('multi-platform image indexes');
  const create = index.command('create <sources...>');
  registryFlags(create, { creds: 'registry credentials for sources and target' });
  create
    .description(
      'make an index from per-platform images (or indexes, whose children join it); children are copied by digest ' +
        'and only the target is tagged',
    )
    .requiredOption('-t, --tag <location>', 'where the index goes (docker://REF, oci:DIR:TAG, a bare reference)')
    .option('--annotation <key=value>', 'an annotation on the index (repeatable)', collect, [])
    .option(
      '--format <oci|docker>',
      'oci index or Docker manifest list (default: docker only when every image is Docker schema2)',
    )
    .option('--dry-run', 'print the index instead of pushing it');
  outputFlags(create, { json: NDJSON_HELP, quiet: 'no progress' }).action(
    async (
      sources: string[],
      opts: RegistryFlags & {
        tag: string;
        annotation: string[];
        format?: string;
        dryRun?: boolean;
        json?: boolean;
        quiet?: boolean;
      },
    ) => {
      if (opts.format && opts.format !== 'oci' && opts.format !== 'docker')
        throw new UsageError('--format takes oci or docker');
      const common = locationOptions(opts);
      // What the work needs, loaded by the work (start-up: `kura index --help` stays cheap).
      const { openLocation, readImage } = await import('../../transports/locations.js');
      const { createIndex } = await import('../../oci/mutate.js');
      const { openIndex } = await import('../../oci/image.js');
      const { canClose } = await import('../../oci/artifact.js');
      const entries: IndexEntry[] = [];
      for (const s of sources) {
        const loc = await openLocation(s, common);
        entries.push({ artifact: await readImage(loc) });
      }
      const idx = await createIndex(entries, {
        annotations: annotations(opts.annotation),
        ...(opts.format ? { mediaType: opts.format as 'oci' | 'docker' } : {}),
      });
      if (opts.dryRun) {
        process.stdout.write(JSON.stringify(openIndex(idx).index, null, 2) + '\n');
        return;
      }
      const to = await openLocation(opts.tag, { ...common, forWriting: true });
      const p = progress(opts);
      const d = await (await import('../../transports/locations.js')).writeImage(to, idx, { onProgress: p.onProgress });
      // Archives are written whole when closed.
      if (canClose(to.medium)) await to.medium.close();
      p.finish();
      emitResult(opts, { digest: d.digest, mediaType: d.mediaType, size: d.size }, d.digest);
    },
  );
}
