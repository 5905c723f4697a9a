import type { Command } from 'commander';
import type { InspectNames } from '../analysis/inspect.js';
import type { Artifact, Platform } from '../oci/artifact.js';
import { isDigest } from '../oci/digest.js';
import type { ImageReference } from '../oci/imageref.js';
import { parsePlatform } from '../oci/platform.js';
import { familiar, LocalStore } from '../transports/local-store/index.js';
import { openLocation, type Location } from '../transports/locations.js';

/** The flags of every command that talks to a registry. */
export interface RegistryFlags {
  creds?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  /** `--ca-file`: a PEM CA to trust, besides the system's and certs.d's. */
  caFile?: string;
  /** `--registry-mirror` values (Docker Hub reads only). */
  registryMirror?: string[];
}

/** Options every image-reading command takes. */
export interface ImageOptions extends RegistryFlags {
  /** The local image store (bare names are looked up there first, as docker looks in its daemon). */
  store?: string;
  json?: boolean;
  platform?: string;
}

const collect = (v: string, acc: string[] = []) => [...acc, v];

/**
 * The registry flags every command that talks to a registry takes: `--creds USER:PASS`,
 * `--plain-http`, `--insecure` and, where Docker Hub is read, `--registry-mirror URL` (repeatable).
 */
export function registryOptions(cmd: Command, o: { mirror?: boolean; creds?: string } = {}): Command {
  cmd
    .option('--creds <user:password>', o.creds ?? 'credentials for the registry (default: kura login, docker login)')
    .option('--plain-http', 'talk plain HTTP to a registry that is not on localhost')
    .option('--insecure', 'talk HTTPS to registries with self-signed or unknown certificates (no verification)')
    .option('--ca-file <file>', 'trust this PEM CA certificate for the registry (besides the system\'s, and certs.d/HOST/*.crt)');
  if (o.mirror !== false) cmd.option('--registry-mirror <url>', 'Docker Hub mirror to read from first (repeatable; default: KURA_REGISTRY_MIRRORS, then daemon.json)', collect, []);
  return cmd;
}

/** The LocationOptions of the registry flags. */
export function registryFlags(o: RegistryFlags): { creds?: string; plainHttp?: boolean; insecure?: boolean; caFile?: string; registryMirrors?: string[] } {
  return { creds: o.creds, plainHttp: o.plainHttp, insecure: o.insecure, caFile: o.caFile, registryMirrors: o.registryMirror };
}

/** The registry flags, `--json`, and (for commands that read images) `--store DIR`. */
export function remoteOptions(cmd: Command, o: { store?: boolean; mirror?: boolean } = {}): Command {
  registryOptions(cmd, { mirror: o.mirror });
  if (o.store !== false) cmd.option('--store <dir>', 'the local image store, where bare names are looked up first');
  return cmd.option('--json', 'print the result as JSON');
}

/** The location and what it names (an image or an index). */
export async function openImage(location: string, opts: ImageOptions, preferLocal = true): Promise<{ loc: Location; root: Artifact; platform?: Platform }> {
  const loc = await openLocation(location, { ...registryFlags(opts), store: opts.store, preferLocal });
  const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
  return { loc, root: await loc.medium.get(loc.ref), ...(platform ? { platform } : {}) };
}

/** docker's short form of a name: `docker.io/library/alpine` → `alpine`, `docker.io/u/app` → `u/app`. */
export function familiarName(ref: ImageReference): string {
  if (ref.registry !== 'docker.io') return `${ref.registry}/${ref.repository}`;
  return ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice('library/'.length) : ref.repository;
}

/** The unpacked layer sizes the local store keeps for an image of it (undefined for other locations). */
export async function storedLayerSizes(loc: Location): Promise<Record<string, number> | undefined> {
  return loc.medium instanceof LocalStore ? (await loc.medium.find(loc.ref))?.layerSizes : undefined;
}

/** RepoTags and RepoDigests for `kura inspect`: the name typed, and the name with the digest of what it names. */
export async function inspectNames(loc: Location, root: Artifact): Promise<InspectNames> {
  if (loc.medium instanceof LocalStore) {
    const rec = await loc.medium.find(loc.ref);
    return { repoTags: (rec?.names ?? []).map(familiar), repoDigests: (rec?.repoDigests ?? []).map(familiar) };
  }
  if (loc.image) {
    const name = familiarName(loc.image);
    return { repoTags: loc.image.tag ? [`${name}:${loc.image.tag}`] : [], repoDigests: [`${name}@${root.descriptor.digest}`] };
  }
  return { repoTags: isDigest(loc.ref) ? [] : [loc.ref], repoDigests: [] };
}

