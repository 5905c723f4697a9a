import type { Command } from 'commander';
import { manifestInspect } from '../../analysis/inspect.js';
import { openImage, remoteOptions, type ImageOptions } from '../image-options.js';

/** `kura manifest inspect [--verbose] LOCATION`, as `docker manifest inspect` prints it. */
export function registerManifest(program: Command): void {
  const manifest = program.command('manifest').description('look at manifests and indexes');
  remoteOptions(
    manifest
      .command('inspect <location>')
      .description(
        'print the manifest or index (tab-indented, as docker manifest inspect); --verbose adds each image’s ' +
          'descriptor, raw bytes and compressed size',
      )
      .option(
        '-v, --verbose',
        'docker’s verbose form: {Ref, Descriptor, Raw, SchemaV2Manifest|OCIManifest, CompressedSize} per image',
      ),
    { store: false },
  ).action(async (location: string, opts: ImageOptions & { verbose?: boolean }) => {
    const { loc, root } = await openImage(location, opts, false);
    process.stdout.write((await manifestInspect(root, { verbose: opts.verbose, ref: loc.display })) + '\n');
  });
}
