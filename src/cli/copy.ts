import type { Command } from 'commander';
import type { Sink, Source } from '../oci/artifact.js';
import { parseImageReference } from '../oci/imageref.js';
import { OciLayout, copyImage } from '../transports/oci-layout.js';
import { RegistryClient, RegistryRepository } from '../transports/registry.js';

interface Location {
  medium: Source & Sink;
  tag: string;
}

function creds(s: string | undefined): { username: string; password: string } | undefined {
  if (!s) return undefined;
  const i = s.indexOf(':');
  if (i <= 0) throw new Error('credentials take the form USER:PASSWORD');
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** skopeo's transport names: `docker://REF` or `oci:DIR[:TAG]`. */
export function parseLocation(s: string, credentials?: string, plainHttp?: boolean): Location {
  if (s.startsWith('docker://')) {
    const ref = parseImageReference(s.slice('docker://'.length));
    const client = new RegistryClient({ registry: ref.registry, plainHttp, credentials: creds(credentials) });
    return { medium: new RegistryRepository(client, ref.repository), tag: ref.digest ?? ref.tag ?? 'latest' };
  }
  if (s.startsWith('oci:')) {
    const rest = s.slice(4);
    const colon = rest.lastIndexOf(':');
    const [dir, tag] = colon > 0 ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, 'latest'];
    return { medium: new OciLayout(dir), tag };
  }
  throw new Error(`unknown location "${s.slice(0, 100)}": use docker://HOST/REPO:TAG or oci:DIR[:TAG]`);
}

/** `kura copy SRC DST`: an image (all platforms of an index) between registries and OCI layouts. */
export function registerCopy(program: Command): void {
  program
    .command('copy <src> <dst>')
    .description('copy an image, with every platform of an index, between docker://REF and oci:DIR[:TAG]')
    .option('--src-creds <user:password>', 'credentials for a source registry')
    .option('--dest-creds <user:password>', 'credentials for a destination registry')
    .option('--plain-http', 'talk plain HTTP to registries that are not on localhost')
    .action(async (src: string, dst: string, opts: { srcCreds?: string; destCreds?: string; plainHttp?: boolean }) => {
      const from = parseLocation(src, opts.srcCreds, opts.plainHttp);
      const to = parseLocation(dst, opts.destCreds, opts.plainHttp);
      const d = await copyImage(from.medium, from.tag, to.medium, to.tag);
      process.stdout.write(`${d.digest}\n`);
    });
}
