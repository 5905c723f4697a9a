/** `kura index add|remove|annotate`: edit an index, as crane index append/filter and docker manifest annotate. */
import type { Command } from 'commander';
import type { EntryMatch } from '../../oci/edit.js';
import { UsageError } from '../errors.js';
import { openImage, remoteOptions } from '../image-options.js';
import { collect } from '../options.js';
import { keyValues, writeResult, type WriteFlags } from './mutate.js';

interface EntryFlags extends WriteFlags {
  platform?: string;
  entryPlatform: string[];
  digest: string[];
  annotation: string[];
  removeAnnotation: string[];
}

function edit(cmd: Command): Command {
  return remoteOptions(cmd)
    .requiredOption('-t, --tag <location>', 'where the new index goes (docker://REF, oci:DIR:TAG, a bare reference)')
    .option('-q, --quiet', 'no progress');
}

async function entryMatches(o: EntryFlags): Promise<EntryMatch[]> {
  const { parsePlatform } = await import('../../oci/platform.js');
  return [
    ...o.entryPlatform.map((p) => ({ platform: parsePlatform(p) })),
    ...o.digest.map((d) => {
      if (!/^sha256:[0-9a-f]{12,64}$/.test(d)) throw new UsageError(`--digest ${d}: write sha256:HEX (12+ hex digits)`);
      return { digest: d };
    }),
  ];
}

async function readIndex(location: string, o: WriteFlags) {
  // --platform here names an entry, not the image to read.
  const { root } = await openImage(location, { ...o, platform: undefined });
  const { isIndex } = await import('../../oci/image.js');
  if (!isIndex(root)) throw new UsageError(`${location} is an image, not an index: make one with kura index create`);
  return root;
}

/** Registers add, remove and annotate under `kura index`. */
export function registerIndexEdit(program: Command): void {
  const index =
    program.commands.find((c) => c.name() === 'index') ??
    program.command('index').description('multi-platform image indexes');
  const add = index
    .command('add <index> <images...>')
    .description('add images (or the children of indexes) to an index; a platform it already has is an error');
  edit(add).action(async (location: string, images: string[], o: WriteFlags) => {
    const [{ createIndex }, { openIndex }] = await Promise.all([
      import('../../oci/mutate.js'),
      import('../../oci/image.js'),
    ]);
    const root = await readIndex(location, o);
    const entries = [{ artifact: root }];
    for (const i of images) entries.push({ artifact: (await openImage(i, o)).root });
    const doc = openIndex(root).index;
    const docker = root.descriptor.mediaType.includes('docker');
    await writeResult(
      await createIndex(entries, {
        mediaType: docker ? 'docker' : 'oci',
        ...(doc.annotations ? { annotations: doc.annotations } : {}),
      }),
      o,
    );
  });
  const remove = index
    .command('remove <index>')
    .description('take entries (and their attestations) out of an index, by platform or digest');
  edit(remove)
    .option('--platform <os/arch[/variant]>', 'remove the entry of this platform (repeatable)', collect, [])
    .option('--digest <digest>', 'remove the entry with this digest (repeatable)', collect, [])
    .action(async (location: string, o: EntryFlags & { platform: string[] }) => {
      const { removeFromIndex } = await import('../../oci/edit.js');
      const match = await entryMatches({ ...o, entryPlatform: o.platform });
      if (!match.length) throw new UsageError('name what to remove with --platform or --digest');
      await writeResult(removeFromIndex(await readIndex(location, o), match), o);
    });
  const annotate = index
    .command('annotate <index>')
    .description('set annotations on an index, or with --platform/--digest on one of its entries');
  edit(annotate)
    .option('--platform <os/arch[/variant]>', 'annotate the entry of this platform, not the index')
    .option('--digest <digest>', 'annotate the entry with this digest, not the index')
    .option('-a, --annotation <key=value>', 'an annotation to set (repeatable)', collect, [])
    .option('--remove-annotation <key>', 'an annotation to delete (repeatable)', collect, [])
    .action(async (location: string, o: EntryFlags & { platform?: string; digest?: string }) => {
      const [{ annotateIndexEntry }, { withAnnotations }] = await Promise.all([
        import('../../oci/edit.js'),
        import('../../oci/mutate.js'),
      ]);
      const set = keyValues(o.annotation, '--annotation');
      if (!Object.keys(set).length && !o.removeAnnotation.length)
        throw new UsageError('give --annotation KEY=VALUE or --remove-annotation KEY');
      const root = await readIndex(location, o);
      const match = await entryMatches({
        ...o,
        entryPlatform: o.platform ? [o.platform] : [],
        digest: o.digest ? [o.digest] : [],
      });
      if (match.length > 1) throw new UsageError('--platform and --digest name one entry: give one of them');
      const result = match[0]
        ? annotateIndexEntry(root, match[0], set, o.removeAnnotation)
        : await withAnnotations(root, set, { remove: o.removeAnnotation });
      await writeResult(result, o);
    });
}
