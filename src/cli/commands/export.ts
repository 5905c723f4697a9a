import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { openImage, remoteOptions, type ImageOptions } from '../image-options.js';

/** `kura export LOCATION`: the image's final filesystem as one tar (docker export, crane export). */
export function registerExport(program: Command): void {
  remoteOptions(
    program
      .command('export <location>')
      .description('write the flattened filesystem of an image (layers applied, whiteouts removed) as one tar')
      .option(
        '-o, --output <file>',
        'write to FILE (via a temporary file beside it, renamed when complete) instead of stdout; - is stdout',
      )
      .option('--platform <os/arch[/variant]>', 'the image of an index (default: this machine)'),
  ).action(async (location: string, opts: ImageOptions & { output?: string }) => {
    // `-o -` is stdout, as for docker export and tar.
    if (opts.output === '-') delete opts.output;
    if (!opts.output && process.stdout.isTTY) throw new Error('refusing to write a tar to a terminal; use -o FILE');
    const { root, platform } = await openImage(location, opts);
    const [{ flatten }, { resolveImage }, { removeTemp, trackTemp }] = await Promise.all([
      import('../../analysis/flatten.js'),
      import('../../analysis/resolve.js'),
      import('../../oci/temps.js'),
    ]);
    const r = await resolveImage(root, platform);
    const warn = (m: string) => process.stderr.write(`kura: warning: ${m}\n`);
    if (!opts.output) {
      await flatten(
        r.layers.map((l) => l.uncompressed),
        process.stdout,
        warn,
      );
      return;
    }
    // A name of its own, so two exports to one FILE cannot write into each other; gone on exit if interrupted.
    const { randomBytes } = await import('node:crypto');
    const tmp = `${opts.output}.${randomBytes(6).toString('hex')}.tmp`;
    trackTemp(tmp);
    try {
      const res = await flatten(
        r.layers.map((l) => l.uncompressed),
        createWriteStream(tmp, { flags: 'wx' }),
        warn,
      );
      await rename(tmp, opts.output);
      const summary = {
        file: opts.output,
        image: r.image.descriptor.digest,
        entries: res.entries,
        warnings: res.warnings,
      };
      if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else process.stderr.write(`kura export: ${res.entries} entries written to ${opts.output}\n`);
    } catch (e) {
      await removeTemp(tmp);
      throw e;
    }
  });
}
