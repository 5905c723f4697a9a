/** A registry as a location: a client from location options, and the Docker Hub mirrors for reads. */
import { DOCKER_HUB, type ImageReference } from '../../oci/imageref.js';
import { dockerLocation, type Location, type LocationOptions } from '../locations.js';
import { RegistryClient } from './client.js';
import { Keychain } from './credentials.js';
import { RegistryRepository } from './repository.js';

let defaultKeychain: Keychain | undefined;

/** A client for a registry from CLI options: `--creds` wins over the keychain; mirrors only for docker.io. */
export function registryClient(registry: string, opts: LocationOptions = {}): RegistryClient {
  return new RegistryClient({
    registry,
    plainHttp: opts.plainHttp,
    insecure: opts.insecure,
    caFile: opts.caFile,
    credentials: opts.credentials ?? parseCreds(opts.creds),
    // A flag names where credentials came from only when they came from one.
    credentialsFlag: opts.credentials ? undefined : (opts.credsFlag ?? '--creds'),
    signal: opts.signal,
    idleTimeoutMs: opts.idleTimeoutMs,
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

/** A registry location (mirrors, if any, must be in `opts.mirrors`: see openLocation). */
export function registryLocation(ref: ImageReference, opts: LocationOptions): Location<RegistryRepository> {
  return { ...dockerLocation(ref), medium: new RegistryRepository(registryClient(ref.registry, opts), ref.repository) };
}

/** A registry location for reading or writing; Docker Hub reads go through the configured mirrors. */
export async function openRegistry(ref: ImageReference, opts: LocationOptions): Promise<Location<RegistryRepository>> {
  // Mirrors serve reads of Docker Hub only; daemon.json is not even read for other registries.
  let mirrors: URL[] | undefined;
  if (ref.registry === DOCKER_HUB && !opts.forWriting) {
    const { loadMirrors } = await import('./mirrors.js');
    mirrors = opts.mirrors ?? (await loadMirrors({ flags: opts.registryMirrors }));
  }
  return registryLocation(ref, { ...opts, mirrors });
}
