import type { Sink, Source } from '../oci/artifact.js';
import { DOCKER_HUB, formatImageReference, parseImageReference, type ImageReference } from '../oci/imageref.js';
import { Keychain } from '../transports/registry/index.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient, RegistryRepository, type CredentialResolver } from '../transports/registry/index.js';

export type Medium = Source & Sink;

/** Where an image is: a medium and the name inside it. */
export interface Location {
  medium: Medium;
  /** Tag or digest inside the medium. */
  ref: string;
  /** skopeo's transport name. */
  transport: 'docker' | 'oci' | 'oci-archive' | 'docker-archive' | 'local';
  /** For registry and local-store locations: the parsed reference. */
  image?: ImageReference;
  /** What to print for it. */
  display: string;
}

export interface LocationOptions {
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
}

let defaultKeychain: Keychain | undefined;

/** A client for a registry from CLI options: `--creds` wins over the keychain; mirrors only for docker.io. */
export function registryClient(registry: string, opts: LocationOptions = {}): RegistryClient {
  return new RegistryClient({
    registry,
    plainHttp: opts.plainHttp,
    insecure: opts.insecure,
    caFile: opts.caFile,
    credentials: parseCreds(opts.creds),
    credentialsFlag: opts.credsFlag ?? '--creds',
    keychain: opts.keychain ?? (defaultKeychain ??= new Keychain()),
    mirrors: opts.mirrors,
  });
}

export function parseCreds(s: string | undefined): { username: string; password: string } | undefined {
  if (!s) return undefined;
  const i = s.indexOf(':');
  if (i <= 0) throw new Error('credentials take the form USER:PASSWORD');
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** `PATH[:REF]` of the oci:, oci-archive: and docker-archive: transports (the last colon splits). */
export function splitPathRef(rest: string, defaultRef: string): [string, string] {
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && !rest.slice(colon + 1).includes('/')) return [rest.slice(0, colon), rest.slice(colon + 1)];
  return [rest, defaultRef];
}

/** A registry location (mirrors, if any, must be in `opts.mirrors`: see openLocation). */
export function registryLocation(ref: ImageReference, opts: LocationOptions): Location {
  const client = registryClient(ref.registry, opts);
  return { medium: new RegistryRepository(client, ref.repository), ref: ref.digest ?? ref.tag ?? 'latest', transport: 'docker', image: ref, display: formatImageReference(ref) };
}

/** A registry location for reading or writing; Docker Hub reads go through the configured mirrors. */
export async function openRegistry(ref: ImageReference, opts: LocationOptions): Promise<Location> {
  // Mirrors serve reads of Docker Hub only; daemon.json is not even read for other registries.
  const mirrors = ref.registry === DOCKER_HUB && !opts.forWriting ? (opts.mirrors ?? (await (await import('../transports/registry/index.js')).loadMirrors({ flags: opts.registryMirrors }))) : undefined;
  return registryLocation(ref, { ...opts, mirrors });
}

/**
 * skopeo's transport names: `docker://REF`, `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
 * `docker-archive:FILE[:REF]`, and `local:NAME` for the local image store; a bare reference means a
 * registry (or the local store first, with `preferLocal`).
 */
export async function openLocation(s: string, opts: LocationOptions = {}): Promise<Location> {
  if (s.startsWith('docker://')) return openRegistry(parseImageReference(s.slice('docker://'.length)), opts);
  if (s.startsWith('oci:')) {
    const [dir, ref] = splitPathRef(s.slice(4), 'latest');
    return { medium: new OciLayout(dir), ref, transport: 'oci', display: `oci:${dir}:${ref}` };
  }
  if (s.startsWith('oci-archive:')) {
    const [file, ref] = splitPathRef(s.slice('oci-archive:'.length), opts.forWriting ? 'latest' : '');
    const { OciArchive } = await import('../transports/archive/index.js');
    return { medium: new OciArchive(file), ref, transport: 'oci-archive', display: s };
  }
  if (s.startsWith('docker-archive:')) {
    const [file, ref] = splitArchiveRef(s.slice('docker-archive:'.length));
    // Archives, the local store and mirrors load only when named: start-up is paid per command.
    let medium: Medium;
    if (opts.forWriting) {
      const [{ DockerArchiveWriter }, { parsePlatform }] = await Promise.all([import('../transports/archive/index.js'), import('../oci/platform.js')]);
      medium = writeOnly(new DockerArchiveWriter(file, { ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}), ...(opts.compression ? { compression: opts.compression } : {}) }), s);
    } else {
      const { DockerArchive } = await import('../transports/archive/index.js');
      medium = readOnly(new DockerArchive(file), s);
    }
    return { medium, ref, transport: 'docker-archive', display: s };
  }
  if (s.startsWith('local:')) {
    const { defaultStoreDir, LocalStore } = await import('../transports/local-store/index.js');
    const store = new LocalStore(opts.store ?? defaultStoreDir());
    return { medium: store, ref: s.slice('local:'.length), transport: 'local', display: s };
  }
  const transport = /^(dir|containers-storage|docker-daemon):/.exec(s)?.[1];
  if (transport) {
    throw new Error(`the ${transport}: transport is not available; use docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]`);
  }
  if (opts.preferLocal) {
    // Names, image IDs and digests of the local store, as docker resolves them against its daemon.
    const { defaultStoreDir, LocalStore } = await import('../transports/local-store/index.js');
    const store = new LocalStore(opts.store ?? defaultStoreDir());
    if (await store.find(s)) return { medium: store, ref: s, transport: 'local', display: s };
  }
  return openRegistry(parseImageReference(s), opts);
}

/** `FILE[:REF]` of docker-archive, where REF may itself hold a colon (`name:tag`) or be `@N`. */
export function splitArchiveRef(rest: string): [string, string] {
  const m = /^(.*?\.(?:tar|tgz|tar\.gz|tar\.zst|tar\.zstd|tzst))(?::(.*))?$/.exec(rest);
  if (m) return [m[1]!, m[2] ?? ''];
  const colon = rest.indexOf(':');
  return colon > 0 ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, ''];
}

function readOnly<T extends Source>(m: T, what: string): Medium & T {
  return Object.assign(m, {
    write: async () => {
      throw new Error(`${what} is opened for reading; write an archive as a destination`);
    },
  }) as Medium & T;
}

function writeOnly<T extends Sink>(m: T, what: string): Medium & T {
  return Object.assign(m, {
    get: async () => {
      throw new Error(`${what} is being written; read it in another command`);
    },
  }) as Medium & T;
}
