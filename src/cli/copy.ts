import type { Command } from 'commander';
import { copyImage } from '../transports/oci-layout.js';
import { openLocation } from './locations.js';
import { progress } from './progress.js';

/** `kura copy SRC DST`: an image (all platforms of an index) between any two transports. */
export function registerCopy(program: Command): void {
  program
    .command('copy <src> <dst>')
    .description('copy an image, with every platform of an index, between docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] and docker-archive:FILE[:REF]')
    .option('--src-creds <user:password>', 'credentials for a source registry')
    .option('--dest-creds <user:password>', 'credentials for a destination registry')
    .option('--plain-http', 'talk plain HTTP to registries that are not on localhost')
    .option('--json', 'NDJSON progress events and result on stdout')
    .option('-q, --quiet', 'no progress')
    .action(async (src: string, dst: string, opts: { srcCreds?: string; destCreds?: string; plainHttp?: boolean; json?: boolean; quiet?: boolean }) => {
      const from = await openLocation(src, { creds: opts.srcCreds, plainHttp: opts.plainHttp });
      const to = await openLocation(dst, { creds: opts.destCreds, plainHttp: opts.plainHttp, forWriting: true });
      const p = progress(opts);
      const d = await copyImage(from.medium, from.ref, to.medium, to.ref, { onProgress: p.onProgress });
      p.finish();
      process.stdout.write(opts.json ? JSON.stringify({ event: 'result', digest: d.digest, mediaType: d.mediaType, size: d.size }) + '\n' : `${d.digest}\n`);
    });
}
