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
    .option('--insecure', 'talk HTTPS to registries with self-signed or unknown certificates (no verification)')
    .option('--registry-mirror <url...>', 'Docker Hub mirror to read from first (default: KURA_REGISTRY_MIRRORS, then daemon.json)')
    .option('--json', 'NDJSON progress events and result on stdout')
    .option('-q, --quiet', 'no progress')
    .action(async (src: string, dst: string, opts: { srcCreds?: string; destCreds?: string; plainHttp?: boolean; insecure?: boolean; registryMirror?: string[]; json?: boolean; quiet?: boolean }) => {
      const net = { plainHttp: opts.plainHttp, insecure: opts.insecure, registryMirrors: opts.registryMirror };
      const from = await openLocation(src, { ...net, creds: opts.srcCreds });
      const to = await openLocation(dst, { ...net, creds: opts.destCreds, forWriting: true });
      const p = progress(opts);
      const d = await copyImage(from.medium, from.ref, to.medium, to.ref, { onProgress: p.onProgress });
      p.finish();
      process.stdout.write(opts.json ? JSON.stringify({ event: 'result', digest: d.digest, mediaType: d.mediaType, size: d.size }) + '\n' : `${d.digest}\n`);
    });
}
