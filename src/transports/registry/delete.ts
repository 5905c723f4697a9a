/**
 * Deletes of the registry client: a manifest by digest, and a tag alone. Where a registry cannot
 * delete a tag (Distribution 2.x answers a DELETE by tag with an error), the tag is moved to a
 * throw-away manifest made for the purpose and that manifest is deleted by digest (regclient's
 * way): the tag goes, every other tag of the image it named stays.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../oci/digest.js';
import { MediaTypes } from '../../oci/mediatypes.js';
import { scopes, type AuthNeed } from './auth.js';
import type { Endpoint } from './endpoint.js';
import { RegistryResponseError } from './errors.js';
import { bodyText, describeErrorBody, discard, type HttpResponse } from './http.js';
import { putManifest, uploadBlob } from './upload.js';

/** What a delete needs of its repository. */
export interface DeleteContext {
  endpoint: Endpoint;
  registry: string;
  repo: string;
  /** The digest a tag names now (a HEAD). */
  digestOf(tag: string): Promise<string>;
}

/** How a tag is deleted. */
export interface DeleteOptions {
  /**
   * Where the registry cannot delete a tag alone, delete the manifest it names instead, and with it
   * every other tag of that manifest (what skopeo delete does). Default false: the tag alone.
   */
  widen?: boolean;
  signal?: AbortSignal;
}

const ok = (res: HttpResponse) => res.status === 202 || res.status === 200 || res.status === 204;

/** DELETE of a manifest by digest: the manifest and every tag that names it. */
export async function deleteManifest(c: DeleteContext, digest: string, what = digest): Promise<void> {
  const need: AuthNeed = { scopes: scopes.delete(c.repo), repository: c.repo };
  const res = await c.endpoint.request('DELETE', `/v2/${c.repo}/manifests/${digest}`, need);
  if (ok(res)) return discard(res);
  throw await deleteError(c, res, need, what);
}

/**
 * Deletes a tag alone. The registry is asked to delete the tag (Kura, Distribution 3, most clouds);
 * if it cannot, the tag goes through a throw-away manifest, unless `widen` asks for the manifest
 * the tag names to go instead.
 */
export async function deleteTag(c: DeleteContext, tag: string, o: DeleteOptions = {}): Promise<void> {
  const name = `${c.registry}/${c.repo}:${tag}`;
  const need: AuthNeed = { scopes: scopes.delete(c.repo), repository: c.repo };
  const res = await c.endpoint.request('DELETE', `/v2/${c.repo}/manifests/${tag}`, need);
  if (ok(res)) return discard(res);
  // Refused, busy or deletes off: the same would happen to any way round.
  if (res.status === 401 || res.status === 403 || res.status === 405 || res.status === 429 || res.status >= 500)
    throw await deleteError(c, res, need, name);
  await discard(res);
  // 400 (Distribution 2.x: a tag is not a digest) or 404: does the tag exist? (MANIFEST_UNKNOWN if not)
  const digest = await c.digestOf(tag);
  if (o.widen) return deleteManifest(c, digest, name);
  const placeholder = await pushPlaceholder(c, tag);
  try {
    await deleteManifest(c, placeholder, name);
  } catch (e) {
    throw new RegistryResponseError(
      'UNSUPPORTED',
      `delete ${name}: ${c.registry} cannot delete a tag alone, so the tag was moved to a throw-away manifest ` +
        `(${placeholder}) to delete that, which failed (${(e as Error).message}); the tag now names ${placeholder}, ` +
        `not ${digest}`,
      { registry: c.registry, repository: c.repo, hint: { option: 'widen' } },
    );
  }
}

/**
 * Tags `tag` with a manifest nothing else names: an empty image whose config holds a fresh UUID (so
 * its digest is new), its config blob pushed first. Returns the manifest's digest.
 */
async function pushPlaceholder(c: DeleteContext, tag: string): Promise<Digest> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'unknown',
      os: 'unknown',
      config: { Labels: { 'org.ocikura.tag-delete': `${tag} ${randomUUID()}` } },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const configDesc = { mediaType: MediaTypes.OciConfig, digest: digestOf(config), size: config.length };
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: configDesc, layers: [] }),
  );
  const ctx = { endpoint: c.endpoint, repo: c.repo, chunking: {} };
  await uploadBlob(ctx, configDesc, { open: async () => Readable.from([config]) });
  const d = { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length };
  await putManifest(ctx, tag, d, manifest);
  return d.digest;
}

async function deleteError(c: DeleteContext, res: HttpResponse, need: AuthNeed, what: string): Promise<Error> {
  if (res.status === 405) {
    // Kura's answer names its own setting; Distribution's says only "unsupported".
    const said = /\(set ([^)]+)\)/.exec(describeErrorBody(await bodyText(res).catch(() => '')).summary)?.[1];
    const fix = said ? `Kura: ${said}` : 'Distribution: storage.delete.enabled: true; Kura: delete.enabled: true';
    return new RegistryResponseError('UNSUPPORTED', `delete ${what}: ${c.registry} does not allow deletes (${fix})`, {
      registry: c.registry,
      repository: c.repo,
      status: 405,
    });
  }
  return c.endpoint.error(res, `delete ${what}`, need, 'MANIFEST_UNKNOWN');
}
