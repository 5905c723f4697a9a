import type { Command } from 'commander';
import {
  graphOptions,
  keylessFlags,
  openGraph,
  parseAnnotations,
  verificationMaterial,
  type GraphOptions,
  type KeylessFlags,
} from '../signing-options.js';
import { collect, jsonFlag } from '../options.js';
import { UsageError } from '../errors.js';

interface VerifyOpts extends GraphOptions, KeylessFlags {
  annotations: string[];
  identity?: string;
  policy?: string;
  json?: boolean;
}

/**
 * Prints what verified (JSON lines with --json, like cosign's output), the rejections on stderr; exit 1 when nothing
 * verified.
 */
function report(
  res: {
    digest: string;
    verified: { from: string; via: string; payload: unknown; predicateType?: string }[];
    rejected: { from: string; reason: string }[];
  },
  json: boolean | undefined,
  what: string,
  image: string,
): void {
  for (const v of res.verified) {
    if (json) process.stdout.write(JSON.stringify(v.payload) + '\n');
    else
      process.stdout.write(
        `verified ${what} of ${res.digest} ` +
          `(${v.via === 'tag' ? v.from : `referrer ${v.from}`})${v.predicateType ? ` ${v.predicateType}` : ''}\n`,
      );
  }
  if (!res.verified.length) {
    const why = res.rejected.length
      ? res.rejected.map((r) => `${r.from}: ${r.reason}`).join('; ')
      : `no ${what}s found`;
    process.stderr.write(`kura: error: no valid ${what} of ${image} (${res.digest}): ${why}\n`);
    process.exit(1);
  }
}

/** `kura verify --key K IMAGE` (or `--policy FILE`). */
export function registerVerify(program: Command): void {
  keylessFlags(graphOptions(program.command('verify <image>')))
    .description(
      'verify the signatures of an image (cosign .sig tag and sigstore-bundle referrers) with public keys, or by a ' +
        'containers policy.json; exit 1 when none verifies',
    )
    .option('--key <file>', 'a public key (cosign.pub) or X.509 certificate (repeatable: any may verify)', collect, [])
    .option('-a, --annotations <key=value>', 'require this annotation in the signed payload (repeatable)', collect, [])
    .option('--identity <ref>', 'require the signed docker-reference: a repository (any tag) or an exact reference')
    .option(
      '--policy <file>',
      'decide by a containers policy.json (insecureAcceptAnything, reject, sigstoreSigned) instead of --key',
    )
    .addOption(jsonFlag('print each verified payload as a JSON line'))
    .action(async (image: string, opts: VerifyOpts) => {
      const { store, loc, reference } = await openGraph(image, opts);
      if (opts.policy) {
        if (opts.key.length || opts.trustedRoot)
          throw new UsageError('give either --policy or --key/--trusted-root, not both');
        const { loadPolicy, evaluatePolicy } = await import('../../signing/policy.js');
        const v = await evaluatePolicy(await loadPolicy(opts.policy), store, loc.ref, reference, loc.transport);
        if (opts.json) process.stdout.write(JSON.stringify({ reference, ...v }) + '\n');
        if (!v.accepted) {
          process.stderr.write(`kura: error: ${v.reason}\n`);
          process.exit(1);
        }
        if (!opts.json) process.stdout.write(`${reference}: ${v.reason}\n`);
        return;
      }
      const material = await verificationMaterial(opts);
      const { verifyImage } = await import('../../signing/verify.js');
      report(
        await verifyImage(store, loc.ref, {
          ...material,
          annotations: parseAnnotations(opts.annotations),
          identity: opts.identity,
        }),
        opts.json,
        'signature',
        reference,
      );
    });
}

/** `kura verify-attestation --key K [--type T] IMAGE`. */
export function registerVerifyAttestation(program: Command): void {
  keylessFlags(graphOptions(program.command('verify-attestation <image>')))
    .description(
      'verify the attestations of an image (.att tag and bundle referrers) and print their in-toto statements; exit ' +
        '1 when none verifies',
    )
    .option('--key <file>', 'a public key (cosign.pub) or X.509 certificate (repeatable)', collect, [])
    .option(
      '--type <type>',
      'only attestations of this predicate type (slsaprovenance, spdx, cyclonedx, vuln, ..., or a URI)',
    )
    .addOption(jsonFlag('print each verified statement as a JSON line (the default prints a summary line each)'))
    .action(async (image: string, opts: VerifyOpts & { type?: string }) => {
      const material = await verificationMaterial(opts);
      const [{ predicateType }, { verifyAttestations }] = await Promise.all([
        import('../../signing/formats.js'),
        import('../../signing/verify.js'),
      ]);
      const type = opts.type ? predicateType(opts.type) : undefined;
      const { store, loc, reference } = await openGraph(image, opts);
      report(
        await verifyAttestations(store, loc.ref, { ...material, ...(type ? { type } : {}) }),
        opts.json,
        type ? `${type} attestation` : 'attestation',
        reference,
      );
    });
}

/** `kura tree IMAGE`: the graph around an image. */
export function registerTree(program: Command): void {
  graphOptions(program.command('tree <image>'))
    .description(
      'show the graph around an image: index children, signatures, attestations, SBOMs and other referrers (cosign ' +
        'tags and OCI referrers)',
    )
    .addOption(jsonFlag('the graph as JSON'))
    .action(async (image: string, opts: GraphOptions & { json?: boolean }) => {
      const { store, loc } = await openGraph(image, opts);
      const { discoverGraph, formatGraph } = await import('../../signing/graph.js');
      const graph = await discoverGraph(store, await store.get(loc.ref));
      process.stdout.write(opts.json ? JSON.stringify(graph, null, 2) + '\n' : formatGraph(graph, store.name));
    });
}
