/** docker's short form of image names (the "familiar" form of distribution/reference). */

/**
 * `docker.io/library/nginx:latest` → `nginx:latest`, `docker.io/user/app@sha256:…` →
 * `user/app@sha256:…`; names of other registries (`localhost:5000/x:1`) stay whole. Takes a
 * normalized name, with or without a tag or digest.
 */
export function familiar(name: string): string {
  if (!name.startsWith('docker.io/')) return name;
  const rest = name.slice('docker.io/'.length);
  const at = rest.indexOf('@');
  const colon = rest.lastIndexOf(':');
  const path = at >= 0 ? rest.slice(0, at) : colon > rest.lastIndexOf('/') ? rest.slice(0, colon) : rest;
  const official = path.startsWith('library/') && !path.slice('library/'.length).includes('/');
  return official ? rest.slice('library/'.length) : rest;
}
