import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  graphOptions,
  openGraph,
  parseAnnotations,
  passphrase,
  signingKey,
  type GraphOptions,
} from '../signing-options.js';
import { collect, jsonFlag } from '../options.js';
import { UsageError } from '../errors.js';

/** Writes a file whole or not at all (temp name, then rename); never over an existing one. */
async function writeNew(path: string, data: string, mode: number): Promise<void> {
  if (existsSync(path)) throw new Error(`${path} exists; remove it or pick another --output-key-prefix`);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/** `kura key generate`: cosign's key pair files. */
export function registerKey(program: Command): void {
  const key = program.command('key').description("signing keys in cosign's formats");
  key
    .command('generate')
    .description(
      'generate an ECDSA P-256 key pair as cosign generate-key-pair does: NAME.key (encrypted, passphrase from ' +
        'KURA_PASSWORD/COSIGN_PASSWORD or a prompt) and NAME.pub',
    )
    .option('--output-key-prefix <name>', 'file name prefix of the key pair', 'cosign')
    .action(async (opts: { outputKeyPrefix: string }) => {
      const { generateKeyPair } = await import('../../signing/keys.js');
      const prefix = opts.outputKeyPrefix;
      for (const f of [`${prefix}.key`, `${prefix}.pub`])
        if (existsSync(f)) throw new Error(`${f} exists; remove it or pick another --output-key-prefix`);
      const pair = await generateKeyPair(await passphrase('private key', true));
      await writeNew(`${prefix}.key`, pair.privatePem, 0o600);
      await writeNew(`${prefix}.pub`, pair.publicPem, 0o644);
      process.stderr.write(`Private key written to ${prefix}.key\nPublic key written to ${prefix}.pub\n`);
    });
}

interface SignOpts extends GraphOptions {
  key?: string;
  annotations: string[];
  recursive?: boolean;
  referrers?: boolean;
  json?: boolean;
}

function printResults(
  results: { subject: string; stored: string; via: string }[],
  json: boolean | undefined,
  verb: string,
): void {
  for (const r of results)
    process.stdout.write(json ? JSON.stringify(r) + '\n' : `${verb} ${r.subject} -> ${r.stored}\n`);
}

/** `kura sign --key K IMAGE`. */
export function registerSign(program: Command): void {
  graphOptions(program.command('sign <image>'))
    .description(
      "sign an image with a key, in cosign's format: a sha256-<hex>.sig tag by default, an OCI 1.1 referrer " +
        '(sigstore bundle, as cosign v3) with --referrers',
    )
    .option('--key <file>', 'the private key (cosign.key, or a PKCS#8/SEC1 PEM key)')
    .option('-a, --annotations <key=value>', 'an annotation in the signed payload (repeatable)', collect, [])
    .option('--recursive', 'sign every child manifest of an index too')
    .option('--referrers', 'store the signature as an OCI 1.1 referrer (sigstore bundle v0.3) instead of a .sig tag')
    .addOption(jsonFlag('one JSON line per signature written'))
    .action(async (image: string, opts: SignOpts) => {
      if (!opts.key) throw new UsageError('give the signing key with --key FILE (make one with "kura key generate")');
      const key = await signingKey(opts.key);
      const { store, loc } = await openGraph(image, opts);
      if (!loc.image)
        throw new Error(
          `${loc.display}: sign an image in a registry (the signature names its repository); copy the layout there ` +
            `first`,
        );
      const { signImage } = await import('../../signing/attach.js');
      const root = await store.get(loc.ref);
      const { isIndexMediaType } = await import('../../oci/mediatypes.js');
      if (isIndexMediaType(root.descriptor.mediaType) && !opts.recursive)
        process.stderr.write(
          `kura: signing the index ${root.descriptor.digest} only; its children stay unsigned (add --recursive to ` +
            `sign them too)\n`,
        );
      printResults(
        await signImage(store, loc.ref, {
          key,
          annotations: parseAnnotations(opts.annotations),
          recursive: opts.recursive,
          referrers: opts.referrers,
        }),
        opts.json,
        'signed',
      );
    });
}

interface AttestOpts extends SignOpts {
  predicate?: string;
  type: string;
}

/** `kura attest --key K --predicate FILE --type T IMAGE`. */
export function registerAttest(program: Command): void {
  graphOptions(program.command('attest <image>'))
    .description(
      'attest an image: an in-toto statement with the predicate, in a signed DSSE envelope (a sha256-<hex>.att tag, ' +
        'or a referrer with --referrers)',
    )
    .option('--key <file>', 'the private key (cosign.key, or a PKCS#8/SEC1 PEM key)')
    .option('--predicate <file>', 'the predicate, a JSON file')
    .option(
      '--type <type>',
      'slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, vuln, openvex, link, custom, or a predicate type ' +
        'URI',
      'custom',
    )
    .option('--recursive', 'attest every child manifest of an index too')
    .option('--referrers', 'store the attestation as an OCI 1.1 referrer (sigstore bundle v0.3) instead of an .att tag')
    .addOption(jsonFlag('one JSON line per attestation written'))
    .action(async (image: string, opts: AttestOpts) => {
      if (!opts.key) throw new UsageError('give the signing key with --key FILE (make one with "kura key generate")');
      if (!opts.predicate) throw new UsageError('give the predicate with --predicate FILE (JSON)');
      const [{ predicateType }, { attestImage }] = await Promise.all([
        import('../../signing/formats.js'),
        import('../../signing/attach.js'),
      ]);
      const type = predicateType(opts.type);
      let predicate: unknown;
      try {
        predicate = JSON.parse(await readFile(opts.predicate, 'utf8'));
      } catch (e) {
        throw new Error(
          `--predicate ${opts.predicate} is not a readable JSON file: ${(e as Error).message.split('\n')[0]}`,
        );
      }
      const key = await signingKey(opts.key);
      const { store, loc } = await openGraph(image, opts);
      if (!loc.image)
        throw new Error(
          `${loc.display}: attest an image in a registry (the statement names its repository); copy the layout ` +
            `there first`,
        );
      printResults(
        await attestImage(store, loc.ref, {
          key,
          type,
          predicate,
          recursive: opts.recursive,
          referrers: opts.referrers,
        }),
        opts.json,
        'attested',
      );
    });
}
