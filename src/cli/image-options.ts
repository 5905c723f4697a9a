import type { Command } from 'commander';
import type { InspectNames } from '../analysis/inspect.js';
import type { Artifact, Platform } from '../oci/artifact.js';
import { isDigest } from '../oci/digest.js';
import type { ImageReference } from '../oci/imageref.js';
import { parsePlatform } from '../oci/platform.js';
import { familiar, LocalStore } from '../transports/local-store.js';
import { openLocation, type Location } from './locations.js';

/** Options every image-reading command takes. */
export interface ImageOptions {
  /** The local image store (bare names are looked up there first, as docker looks in its daemon). */
  store?: string;
  creds?: string;
  plainHttp?: boolean;
  json?: boolean;
  platform?: string;
}

/** Adds `--creds USER:PASS`, `--plain-http`, `--store DIR` and `--json` (accepted where the output is JSON already). */
export function remoteOptions(cmd: Command): Command {
  return cmd
    .option('--creds <user:password>', 'credentials for the registry')
    .option('--plain-http', 'talk plain HTTP to a registry that is not on localhost')
    .option('--store <dir>', 'the local image store, where bare names are looked up first')
    .option('--json', 'print the result as JSON');
}

/** The location and what it names (an image or an index). */
export async function openImage(location: string, opts: ImageOptions, preferLocal = true): Promise<{ loc: Location; root: Artifact; platform?: Platform }> {
  const loc = await openLocation(location, { creds: opts.creds, plainHttp: opts.plainHttp, store: opts.store, preferLocal });
  const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
  return { loc, root: await loc.medium.get(loc.ref), ...(platform ? { platform } : {}) };
}

/** docker's short form of a name: `docker.io/library/alpine` → `alpine`, `docker.io/u/app` → `u/app`. */
export function familiarName(ref: ImageReference): string {
  if (ref.registry !== 'docker.io') return `${ref.registry}/${ref.repository}`;
  return ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice('library/'.length) : ref.repository;
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

/** JSON as Go's encoding/json indents it: `<`, `>` and `&` escaped as docker inspect prints them. */
export function goIndentJson(v: unknown, indent: string): string {
  return JSON.stringify(v, null, indent).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The next page of a paginated list (`Link: </v2/…?last=x&n=100>; rel="next"`), or undefined. */
export function nextLink(res: Response): string | undefined {
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '');
  if (!m) return undefined;
  const u = new URL(m[1]!, 'http://x');
  return u.pathname + u.search;
}

/** A failed registry response as one line that says what to do. */
export async function responseError(res: Response, what: string): Promise<Error> {
  const text = await res.text().catch(() => '');
  let detail = text.slice(0, 200);
  try {
    detail = (JSON.parse(text) as { errors?: { code: string; message: string }[] }).errors?.map((e) => `${e.code}: ${e.message}`).join('; ') ?? detail;
  } catch {
    // not a distribution error body
  }
  const hint =
    res.status === 401 ? '; pass --creds USER:PASSWORD (or log in)' : res.status === 403 ? '; the account lacks the right' : res.status === 404 ? '; check the name' : res.status === 405 ? '; the registry does not allow this (deletes may be disabled)' : '';
  return new Error(`${what}: ${res.status}${detail ? ` ${detail}` : ''}${hint}`);
}

/** The media types a manifest request accepts. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
