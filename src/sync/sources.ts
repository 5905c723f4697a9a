/** What `kura sync` reads from: a repository or image (`--src docker`), or skopeo sync's YAML file (`--src yaml`). */
import { parse as parseYaml } from 'yaml';
import { isDigest } from '../oci/digest.js';
import { parseImageReference, type ImageReference } from '../oci/imageref.js';
import type { Credentials } from '../transports/registry/credentials.js';

/** How one source registry is reached (from the YAML, else from the --src-* flags). */
export interface SourceAccess {
  credentials?: Credentials;
  /** skopeo's tls-verify: false accepts unverified certificates (loopback registries speak plain HTTP anyway). */
  tlsVerify?: boolean;
}

/** One source repository and which of its images to sync. */
export interface SyncSource {
  registry: string;
  repository: string;
  /** Tags and digests to sync; undefined: every tag (then filtered by `tagRegex` or `semver`). */
  refs?: string[];
  tagRegex?: RegExp;
  /** A semver constraint the tags must satisfy (Masterminds' syntax, as skopeo: `>= 1.2, < 2`). */
  semver?: string;
  access: SourceAccess;
}

/** `--src docker REF`: `REG/REPO` syncs every tag, `REG/REPO:TAG` or `@DIGEST` that one image (skopeo's rule). */
export function dockerSource(ref: string, access: SourceAccess = {}): SyncSource {
  const r = parseImageReference(ref.startsWith('docker://') ? ref.slice('docker://'.length) : ref);
  const one = r.digest ?? (r.tagDefaulted ? undefined : r.tag);
  return { registry: r.registry, repository: r.repository, refs: one ? [one] : undefined, access };
}

const KEYS = new Set(['images', 'images-by-tag-regex', 'images-by-semver', 'tls-verify', 'credentials']);

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * skopeo sync's YAML: `REGISTRY: {images: {REPO: [TAG|DIGEST…]}, images-by-tag-regex: {REPO: REGEX},
 * images-by-semver: {REPO: CONSTRAINT}, tls-verify, credentials: {username, password}}`. An empty tag
 * list means every tag. Anything else is an error naming the file and the key.
 */
export function parseSyncYaml(text: string, file: string): SyncSource[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${file}: not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isMap(doc)) throw new Error(`${file}: expected a map of registries (REGISTRY: {images: …}) at the top`);
  const out: SyncSource[] = [];
  for (const [registry, body] of Object.entries(doc)) {
    const where = `${file}: ${registry}`;
    if (!isMap(body)) throw new Error(`${where}: expected a map with images, images-by-tag-regex or images-by-semver`);
    for (const k of Object.keys(body))
      if (!KEYS.has(k)) throw new Error(`${where}: unknown key "${k}" (known: ${[...KEYS].join(', ')})`);
    const access = readAccess(body, where);
    const repo = (name: string): { registry: string; repository: string } => {
      let r: ImageReference;
      try {
        r = parseImageReference(`${registry}/${name}`);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
      if (r.registry !== registry || !r.tagDefaulted || r.digest)
        throw new Error(`${where}: "${name}" is not a repository name of registry ${registry}`);
      return { registry, repository: r.repository };
    };
    for (const [name, list] of Object.entries(section(body, 'images', where))) {
      if (list !== null && !(Array.isArray(list) && list.every((t) => typeof t === 'string')))
        throw new Error(`${where}: images.${name} must be a list of tags or digests`);
      const refs = (list ?? []) as string[];
      for (const t of refs)
        if (!isDigest(t) && !/^[\w][\w.-]{0,127}$/.test(t))
          throw new Error(`${where}: images.${name}: "${t}" is neither a tag nor a digest`);
      out.push({ ...repo(name), refs: refs.length ? refs : undefined, access });
    }
    for (const [name, re] of Object.entries(section(body, 'images-by-tag-regex', where))) {
      if (typeof re !== 'string') throw new Error(`${where}: images-by-tag-regex.${name} must be a regular expression`);
      let tagRegex: RegExp;
      try {
        tagRegex = new RegExp(re);
      } catch (e) {
        throw new Error(`${where}: images-by-tag-regex.${name}: ${(e as Error).message}`);
      }
      out.push({ ...repo(name), tagRegex, access });
    }
    for (const [name, c] of Object.entries(section(body, 'images-by-semver', where))) {
      if (typeof c !== 'string')
        throw new Error(`${where}: images-by-semver.${name} must be a constraint like ">= 1.2"`);
      out.push({ ...repo(name), semver: c, access });
    }
  }
  return out;
}

function section(body: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const v = body[key];
  if (v === undefined || v === null) return {};
  if (!isMap(v)) throw new Error(`${where}: ${key} must be a map of repository names`);
  return v;
}

function readAccess(body: Record<string, unknown>, where: string): SourceAccess {
  const access: SourceAccess = {};
  const tls = body['tls-verify'];
  if (tls !== undefined) {
    if (typeof tls !== 'boolean') throw new Error(`${where}: tls-verify must be true or false`);
    access.tlsVerify = tls;
  }
  const c = body.credentials;
  if (c !== undefined) {
    if (!isMap(c) || typeof c.username !== 'string' || typeof c.password !== 'string')
      throw new Error(`${where}: credentials must be {username: NAME, password: SECRET}`);
    access.credentials = { username: c.username, password: c.password };
  }
  return access;
}
