/** `kura flatten REF -t DEST`: an image squashed to one layer (its final filesystem), as crane flatten. */
import type { Command } from 'commander';
import { editOptions, readSource, writeResult, type WriteFlags } from './mutate.js';

/** `kura flatten`. */
export function registerFlatten(program: Command): void {
  const cmd = program
    .command('flatten <location>')
    .description('squash the layers of an image into one (whiteouts applied); the config is kept');
  editOptions(cmd).action(async (location: string, o: WriteFlags) => {
    const { squashImage } = await import('../../analysis/squash.js');
    const warn = (m: string) => process.stderr.write(`kura: warning: ${m}\n`);
    await writeResult(await squashImage(await readSource(location, o), { onWarning: warn }), o);
  });
}
