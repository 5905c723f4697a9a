/** The options and helpers the signing commands share (sign, attest, verify, tree, sbom --attach). */
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { formatImageReference } from '../oci/imageref.js';
// The files themselves, not the folders' index.ts: a command loads only what it uses (start-up).
import { OciLayout } from '../transports/layout/oci-layout.js';
import { RegistryRepository } from '../transports/registry/repository.js';
import { LayoutGraphStore, RegistryGraphStore, type GraphStore } from '../signing/store.js';
import { openLocation, type Location, type LocationOptions } from '../transports/locations.js';
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

/** A location's graph store: registries and OCI layouts hold signatures; archives and the local store do not. */
export function graphStoreOf(loc: Location): GraphStore | undefined {
  if (loc.medium instanceof RegistryRepository) return new RegistryGraphStore(loc.medium);
  if (loc.medium instanceof OciLayout) return new LayoutGraphStore(loc.medium);
  return undefined;
}

/** Opens IMAGE (a registry reference, `docker://REF` or `oci:DIR[:TAG]`) as a graph store and the ref inside it. */
export async function openGraph(
  image: string,
  opts: GraphOptions & Pick<LocationOptions, 'forWriting'> = {},
): Promise<{ loc: Location; store: GraphStore; reference: string }> {
  const loc = await openLocation(image, {
    creds: opts.creds,
    plainHttp: opts.plainHttp,
    insecure: opts.insecure,
    forWriting: opts.forWriting,
  });
  const store = graphStoreOf(loc);
  if (!store)
    throw new Error(
      `${loc.display}: signatures are kept in registries and OCI layouts; give docker://REF or oci:DIR[:TAG]`,
    );
  return { loc, store, reference: loc.image ? formatImageReference(loc.image) : loc.display };
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
    throw new UsageError('give the public key with --key FILE (cosign.pub); keyless verification is not supported yet');
  const { loadPublicKey } = await import('../signing/keys.js');
  return Promise.all(paths.map(async (p) => loadPublicKey(await readKeyFile(p), p)));
}
