/**
 * skopeo's transport names, parsed once and opened lazily: `docker://REF`, `oci:DIR[:TAG]`,
 * `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`, and `local:NAME` for the local image store;
 * a bare reference means a registry (or the local store first, with `preferLocal`).
 */
import type { Artifact, Descriptor, Sink, Source, WriteOptions } from '../oci/artifact.js';
import { formatImageReference, parseImageReference, type ImageReference } from '../oci/imageref.js';
import type { Credentials } from './registry/credentials.js';
import type { CredentialResolver } from './registry/client.js';
import type { RegistryRepository } from './registry/repository.js';

/** skopeo's name of a medium. */
export type Transport = 'docker' | 'oci' | 'oci-archive' | 'docker-archive' | 'local';

/** A location string taken apart, before anything is opened. */
export interface ParsedLocation {
  transport: Transport;
  /** The directory or file of `oci`, `oci-archive` and `docker-archive`. */
  path?: string;
  /** For `docker` (and bare names): the parsed reference. */
  image?: ImageReference;
  /** Tag or digest inside the medium (a name or ID for `local`; '' for "the only image" of an archive). */
  ref: string;
  /** True when the location named no tag or digest, so `ref` is the medium's default. */
  refDefaulted: boolean;
  /** What to print for it. */
  display: string;
}

/** Where an image is: a medium, opened for reading (a Source) or for writing (a Sink), and the name inside it. */
export interface Location<M extends Source | Sink = Source | Sink> extends ParsedLocation {
  medium: M;
}

export interface LocationOptions {
  /** Credentials for a registry (else `creds`, else the keychain). */
  credentials?: Credentials;
  /** USER:PASSWORD for a registry (else the credential store). */
  creds?: string;
  /** The flag `creds` came from, for messages (default --creds). */
  credsFlag?: string;
  plainHttp?: boolean;
  /** HTTPS accepting self-signed or unknown certificates. */
  insecure?: boolean;
  /** A PEM CA file to trust (--ca-file). */
  caFile?: string;
  /** The location is written to (archives are created, not read). */
  forWriting?: boolean;
  /** The platform a docker-archive keeps when an index is written to it. */
  platform?: string;
  /**
   * A bare reference names an image of the local store when the store has it (docker's inspect,
   * history, save, export); otherwise, and for copy, a bare reference means a registry.
   */
  preferLocal?: boolean;
  /** The local image store's directory (default: defaultStoreDir()). */
  store?: string;
  /** Compression of a whole docker-archive being written. */
  compression?: 'none' | 'gzip' | 'zstd';
  /** `--registry-mirror` values; without them KURA_REGISTRY_MIRRORS, then daemon.json. */
  registryMirrors?: string[];
  /** Docker Hub mirrors already loaded (openLocation loads them when the registry is docker.io). */
  mirrors?: URL[];
  /** Where credentials come from (default: docker config, auth.json, credential helpers). */
  keychain?: CredentialResolver;
  /** Cancels a registry's requests (its client's signal); other media are not opened once it has aborted. */
  signal?: AbortSignal;
  /** A registry request idle this long fails (default 60 s; 0: never). */
  idleTimeoutMs?: number;
}

/** `PATH[:REF]` of the oci:, oci-archive: and docker-archive: transports (the last colon splits). */
export function splitPathRef(rest: string, defaultRef: string): [string, string] {
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && !rest.slice(colon + 1).includes('/')) return [rest.slice(0, colon), rest.slice(colon + 1)];
  return [rest, defaultRef];
}

/** `FILE[:REF]` of docker-archive, where REF may itself hold a colon (`name:tag`) or be `@N`. */
export function splitArchiveRef(rest: string): [string, string] {
  const m = /^(.*?\.(?:tar|tgz|tar\.gz|tar\.zst|tar\.zstd|tzst))(?::(.*))?$/.exec(rest);
  if (m) return [m[1]!, m[2] ?? ''];
  const colon = rest.indexOf(':');
  return colon > 0 ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, ''];
}

/** A registry location, parsed. */
export function dockerLocation(image: ImageReference): ParsedLocation {
  const ref = image.digest ?? image.tag ?? 'latest';
  const display = formatImageReference(image);
  return { transport: 'docker', image, ref, refDefaulted: image.tagDefaulted === true, display };
}

/** A path transport's location: `PATH[:REF]`, REF defaulting to `defaultRef`. */
function pathLocation(
  transport: Transport,
  rest: string,
  split: (rest: string) => [string, string],
  display = (_path: string, _ref: string) => `${transport}:${rest}`,
): ParsedLocation {
  const [path, ref] = split(rest);
  return { transport, path, ref, refDefaulted: path === rest, display: display(path, ref) };
}

/** The prefix of each transport name, and how the rest of the location reads. */
const SCHEMES: Record<string, (rest: string, forWriting: boolean) => ParsedLocation> = {
  'docker://': (rest) => dockerLocation(parseImageReference(rest)),
  'oci:': (rest) =>
    pathLocation(
      'oci',
      rest,
      (r) => splitPathRef(r, 'latest'),
      (dir, ref) => `oci:${dir}:${ref}`,
    ),
  'oci-archive:': (rest, forWriting) =>
    pathLocation('oci-archive', rest, (r) => splitPathRef(r, forWriting ? 'latest' : '')),
  'docker-archive:': (rest) => pathLocation('docker-archive', rest, splitArchiveRef),
  'local:': (rest) => localLocation(rest, `local:${rest}`),
};

/** A name of the local image store. */
function localLocation(name: string, display: string): ParsedLocation {
  return { transport: 'local', ref: name, refDefaulted: !namesTagOrDigest(name), display };
}

/** Whether a local-store name carries a tag or digest (`app:1`, `app@sha256:…`), as opposed to a bare name. */
function namesTagOrDigest(name: string): boolean {
  return name.includes('@') || /:[^/]*$/.test(name.replace(/^[^/]*\//, ''));
}

/** skopeo transports Kura does not have are refused, naming the ones it has. */
function refuseMissingTransport(s: string): void {
  const transport = /^(dir|containers-storage|docker-daemon):/.exec(s)?.[1];
  if (transport) {
    const have = 'docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]';
    throw new Error(`the ${transport}: transport is not available; use ${have}`);
  }
}

/**
 * Parses a location without opening it (no files, no network). A bare reference is a registry's;
 * skopeo transports Kura does not have are refused naming the ones it has.
 */
export function parseLocation(s: string, opts: Pick<LocationOptions, 'forWriting'> = {}): ParsedLocation {
  for (const [prefix, parse] of Object.entries(SCHEMES)) {
    if (s.startsWith(prefix)) return parse(s.slice(prefix.length), opts.forWriting === true);
  }
  refuseMissingTransport(s);
  return dockerLocation(parseImageReference(s));
}

type Opener = (p: ParsedLocation, opts: LocationOptions) => Promise<Source | Sink>;

/**
 * Reads the image a location names. A registry gets the typed reference as parsed at the edge (it
 * knows whether the tag was defaulted, and a digest is never re-classified); other media their ref.
 */
export function readImage(loc: Location<Source>): Promise<Artifact> {
  return loc.transport === 'docker' && loc.image
    ? (loc.medium as RegistryRepository).get(loc.image)
    : loc.medium.get(loc.ref);
}

/** Writes an image to the location, the typed reference going to a registry as in readImage. */
export function writeImage(loc: Location<Sink>, artifact: Artifact, opts?: WriteOptions): Promise<Descriptor> {
  return loc.transport === 'docker' && loc.image
    ? (loc.medium as RegistryRepository).write(loc.image, artifact, opts)
    : loc.medium.write(loc.ref, artifact, opts);
}

/**
 * Each transport's medium, loaded only when named: the registry client (HTTP, TLS, credentials),
 * archives, the local store and mirrors each cost start-up, paid by the commands that use them.
 */
const OPENERS: Record<Transport, Opener> = {
  docker: async (p, opts) => (await (await import('./registry/location.js')).openRegistry(p.image!, opts)).medium,
  oci: async (p) => new (await import('./layout/oci-layout.js')).OciLayout(p.path!),
  'oci-archive': async (p) => new (await import('./archive/oci-archive.js')).OciArchive(p.path!),
  'docker-archive': async (p, opts) => {
    if (!opts.forWriting) return new (await import('./archive/docker-archive.js')).DockerArchive(p.path!);
    const [{ DockerArchiveWriter }, { parsePlatform }] = await Promise.all([
      import('./archive/docker-archive-writer.js'),
      import('../oci/platform.js'),
    ]);
    return new DockerArchiveWriter(p.path!, {
      ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
      ...(opts.compression ? { compression: opts.compression } : {}),
    });
  },
  local: async (_p, opts) => {
    const { defaultStoreDir, LocalStore } = await import('./local-store/store.js');
    return new LocalStore(opts.store ?? defaultStoreDir());
  },
};

/**
 * Opens a location: for writing (`forWriting`) its medium is a Sink (a docker-archive is created),
 * else a Source (a docker-archive is read). Registry, layout and local store are both.
 */
export async function openLocation(s: string, opts: LocationOptions & { forWriting: true }): Promise<Location<Sink>>;
export async function openLocation(
  s: string,
  opts?: LocationOptions & { forWriting?: false },
): Promise<Location<Source>>;
export async function openLocation(s: string, opts?: LocationOptions): Promise<Location>;
export async function openLocation(s: string, opts: LocationOptions = {}): Promise<Location> {
  opts.signal?.throwIfAborted();
  if (opts.preferLocal && !Object.keys(SCHEMES).some((prefix) => s.startsWith(prefix))) {
    refuseMissingTransport(s);
    // Names, image IDs and digests of the local store, as docker resolves them against its daemon.
    const { defaultStoreDir, LocalStore } = await import('./local-store/store.js');
    const store = new LocalStore(opts.store ?? defaultStoreDir());
    if (await store.find(s)) return { ...localLocation(s, s), medium: store };
  }
  const p = parseLocation(s, opts);
  return { ...p, medium: await OPENERS[p.transport](p, opts) };
}
