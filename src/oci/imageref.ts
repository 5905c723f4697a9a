import { isDigest, type Digest } from './digest.js';
import { OciError } from './errors.js';
import { isRepositoryName, isTag } from './names.js';

/** A parsed image reference: where (registry), what (repository), which (tag and/or digest). */
export interface ImageReference {
  /** Host[:port]; Docker Hub is "docker.io". */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
  /** Set when the input named neither a tag nor a digest, so `tag` is docker's default, `latest`. */
  tagDefaulted?: true;
}

export const DOCKER_HUB = 'docker.io';

function invalid(input: string, why: string): OciError {
  return new OciError('NAME_INVALID', `invalid image reference "${input.slice(0, 300)}": ${why}`);
}

/**
 * Parses what users type, with docker's defaults: `nginx` → docker.io/library/nginx:latest,
 * `user/app` → docker.io/user/app:latest, `localhost:5000/app`, `ghcr.io/o/r:1@sha256:…`.
 * The first path component is a registry when it has a "." or ":" or is "localhost".
 */
export function parseImageReference(input: string): ImageReference {
  let rest = input.trim();
  if (rest === '') throw invalid(input, 'empty');
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw invalid(input, `"${d.slice(0, 100)}" is not a sha256 or sha512 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw invalid(input, `"${tag.slice(0, 100)}" is not a valid tag`);
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (!/^[a-zA-Z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(registry))
    throw invalid(input, `"${registry}" is not a registry host`);
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!isRepositoryName(repository)) {
    throw invalid(
      input,
      repository !== repository.toLowerCase()
        ? 'repository names must be lowercase'
        : `"${repository.slice(0, 200)}" is not a repository name`,
    );
  }
  if (!tag && !digest) return { registry, repository, tag: 'latest', tagDefaulted: true };
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The canonical string: `registry/repository[:tag][@digest]`. */
export function formatImageReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
