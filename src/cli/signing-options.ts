/**
 * The options and helpers the signing commands share (sign, attest, verify, tree, sbom --attach). Where
 * signatures are kept (graph-store.ts) is loaded by the commands' actions, not here: `--help` stays cheap.
 */
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { registryFlags } from './options.js';
import { UsageError } from './errors.js';

/** Options of the signing commands that reach a registry. */
export interface GraphOptions {
  creds?: string;
  plainHttp?: boolean;
  insecure?: boolean;
}

/** The registry flags of the signing commands: `--creds`, `--plain-http`, `--insecure`. */
export function graphOptions(cmd: Command): Command {
  return registryFlags(cmd, { creds: 'credentials for the registry', caFile: false, mirror: false });
}

/** Opens IMAGE as a graph store (graph-store.ts, loaded here on first use, not with the command). */
export async function openGraph(
  ...args: Parameters<typeof import('./graph-store.js').openGraph>
): ReturnType<typeof import('./graph-store.js').openGraph> {
  return (await import('./graph-store.js')).openGraph(...args);
}

/** `-a key=value` pairs as an object. */
export function parseAnnotations(pairs: string[]): Record<string, string> | undefined {
  if (!pairs.length) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`-a takes key=value, not "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** The passphrase of a key: KURA_PASSWORD, then COSIGN_PASSWORD, then a prompt on a terminal. */
export async function passphrase(what: string, confirm = false): Promise<string> {
  const env = process.env.KURA_PASSWORD ?? process.env.COSIGN_PASSWORD;
  if (env !== undefined) return env;
  if (!process.stdin.isTTY)
    throw new Error(`${what} needs a passphrase: set KURA_PASSWORD or COSIGN_PASSWORD (no terminal to ask on)`);
  const { ask } = await import('./commands/login.js');
  const p = await ask(`Enter password for ${what}: `, true);
  if (confirm && (await ask('Enter password for private key again: ', true)) !== p)
    throw new Error('the passwords do not match; run the command again');
  return p;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the key ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The signing key of `--key FILE`. */
export async function signingKey(path: string): Promise<KeyObject> {
  const { loadPrivateKey } = await import('../signing/keys.js'); // (tweetnacl: only when keys are read)
  return loadPrivateKey(await readKeyFile(path), () => passphrase('private key'), path);
}

/** The verifying keys of `--key FILE` (repeatable): public keys, certificates, unencrypted private keys. */
export async function verifyingKeys(paths: string[]): Promise<KeyObject[]> {
  if (!paths.length)
    throw new UsageError(
      'give the public key with --key FILE (cosign.pub), or --trusted-root FILE with --certificate-identity and ' +
        '--certificate-oidc-issuer for keyless signatures',
    );
  const { loadPublicKey } = await import('../signing/keys.js');
  return Promise.all(paths.map(async (p) => loadPublicKey(await readKeyFile(p), p)));
}

/** The keyless verification flags, named as cosign's. */
export interface KeylessFlags {
  key: string[];
  trustedRoot?: string;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
}

/** Adds cosign's keyless verification flags. */
export function keylessFlags(cmd: Command): Command {
  return cmd
    .option('--trusted-root <file>', 'keyless: a sigstore trusted_root.json (Fulcio CAs, Rekor and CT log keys)')
    .option('--certificate-identity <id>', "keyless: the signing certificate's identity (email or URI), exactly")
    .option('--certificate-identity-regexp <re>', "keyless: a regular expression the certificate's identity matches")
    .option('--certificate-oidc-issuer <url>', "keyless: the certificate's OIDC issuer, exactly")
    .option('--certificate-oidc-issuer-regexp <re>', "keyless: a regular expression the certificate's issuer matches");
}

/** The keys (`--key`) or the keyless policy (`--trusted-root` and the certificate flags) to verify with. */
export async function verificationMaterial(
  o: KeylessFlags,
): Promise<{ keys: KeyObject[]; keyless?: import('../signing/keyless.js').KeylessPolicy }> {
  const certFlags =
    o.certificateIdentity ?? o.certificateIdentityRegexp ?? o.certificateOidcIssuer ?? o.certificateOidcIssuerRegexp;
  if (o.trustedRoot === undefined && certFlags === undefined) return { keys: await verifyingKeys(o.key) };
  if (o.key.length) throw new UsageError('give either --key or the keyless flags (--trusted-root ...), not both');
  if (o.trustedRoot === undefined)
    throw new UsageError('keyless verification needs --trusted-root FILE (a sigstore trusted_root.json)');
  const { loadTrustedRoot, keylessPolicy } = await import('../signing/keyless.js');
  const trust = await loadTrustedRoot(o.trustedRoot);
  try {
    return {
      keys: [],
      keyless: keylessPolicy(trust, {
        identity: o.certificateIdentity,
        identityRegexp: o.certificateIdentityRegexp,
        issuer: o.certificateOidcIssuer,
        issuerRegexp: o.certificateOidcIssuerRegexp,
      }),
    };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--attest --key FILE` of `kura sbom` and `kura scan`. */
export interface AttestFlags {
  attest?: boolean;
  key?: string;
}

/** Adds `--attest` and `--key` (sign the document as an in-toto attestation and push it, cosign's `.att` tag). */
export function attestFlags(cmd: Command, what: string): Command {
  return cmd
    .option('--attest', `sign ${what} as an in-toto attestation with --key and push it (cosign's .att tag)`)
    .option('--key <file>', 'with --attest: the private key (cosign.key, or a PKCS#8/SEC1 PEM key)');
}

/**
 * Checks `--attest`/`--key` before any work and loads the key (its passphrase asked once, up front); returns a function
 * that attests a document about one image of `loc`, or undefined without `--attest`.
 */
export async function attester(
  o: AttestFlags,
  loc: import('../transports/locations.js').Location,
): Promise<((digest: string, type: string, predicate: unknown) => Promise<void>) | undefined> {
  if (!o.attest) {
    if (o.key) throw new UsageError('--key signs with --attest; add --attest or drop --key');
    return undefined;
  }
  if (!o.key) throw new UsageError('--attest needs the signing key: --key FILE (make one with "kura key generate")');
  const { graphStoreOf } = await import('./graph-store.js');
  const store = graphStoreOf(loc);
  if (!store || !loc.image)
    throw new Error(`${loc.display}: --attest pushes to the image's registry repository; give a registry reference`);
  const key = await signingKey(o.key);
  const [{ attestImage }, { predicateType }] = await Promise.all([
    import('../signing/attach.js'),
    import('../signing/formats.js'),
  ]);
  return async (digest, type, predicate) => {
    for (const r of await attestImage(store, digest, { key, type: predicateType(type), predicate }))
      process.stderr.write(`attested ${predicateType(type)} of ${r.subject} -> ${r.stored}\n`);
  };
}
