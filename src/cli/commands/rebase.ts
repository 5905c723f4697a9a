/** `kura rebase APP --old-base OLD --new-base NEW -t DEST`: an app's layers moved onto a new base, as crane rebase. */
import type { Command } from 'commander';
import { editOptions, readSource, writeResult, type WriteFlags } from './mutate.js';

interface RebaseFlags extends WriteFlags {
  oldBase: string;
  newBase: string;
}

/** `kura rebase`. */
export function registerRebase(program: Command): void {
  const cmd = program
    .command('rebase <app>')
    .description("replace the base image under an app's own layers; refused when the old base is not its first layers")
    .requiredOption('--old-base <location>', 'the base the app was built on')
    .requiredOption('--new-base <location>', 'the base to put under the app instead');
  editOptions(cmd).action(async (app: string, o: RebaseFlags) => {
    const [{ rebase }, { openImage }, { formatPlatform }] = await Promise.all([
      import('../../oci/edit.js'),
      import('../../oci/image.js'),
      import('../../oci/platform.js'),
    ]);
    const a = await readSource(app, o);
    // The bases' images of an index are the app's platform's.
    const platform = o.platform ?? formatPlatform(await openImage(a).platform());
    const [oldBase, newBase] = await Promise.all([
      readSource(o.oldBase, { ...o, platform }),
      readSource(o.newBase, { ...o, platform }),
    ]);
    await writeResult(await rebase(a, oldBase, newBase), o);
  });
}
