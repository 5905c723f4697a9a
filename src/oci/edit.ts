// Edits crane and ko make without a Dockerfile: rebase an image onto a new base, take children out of an index,
// annotate an index entry. Appending layers and config changes are in mutate.ts.
import type { Artifact, BlobReader, Descriptor, Platform } from './artifact.js';
import type { Digest } from './digest.js';
import { OciError } from './errors.js';
import { isIndex, openImage, openIndex } from './image.js';
import { mediaTypeCompression } from './compression.js';
import { MediaTypes, layerMediaType } from './mediatypes.js';
import { finish, rebuildImage } from './mutate.js';
import { formatPlatform, platformMatches } from './platform.js';

/** How many history entries describe the first `layers` layers (for a base without history of its own). */
function historyPrefix(history: { empty_layer?: boolean }[], layers: number): number {
  let seen = 0;
  let i = 0;
  for (; i < history.length && seen < layers; i++) if (!history[i]!.empty_layer) seen++;
  return i;
}

/**
 * `app` with the layers of `oldBase` (which must be its first layers, compared by digest) replaced by those of
 * `newBase`, as `crane rebase` does: the app's config stays (entrypoint, env, labels), its rootfs and history
 * get the new base's part; the platform must agree. All three must be images (pick from indexes first).
 */
export async function rebase(app: Artifact, oldBase: Artifact, newBase: Artifact): Promise<Artifact> {
  for (const [what, a] of [
    ['app', app],
    ['old base', oldBase],
    ['new base', newBase],
  ] as const)
    if (isIndex(a)) throw new OciError('MANIFEST_INVALID', `the ${what} is an index: pick one image with --platform`);
  const [appImg, oldImg, newImg] = [openImage(app), openImage(oldBase), openImage(newBase)];
  const oldLayers = oldImg.manifest.layers;
  const appLayers = appImg.manifest.layers;
  const mismatch = oldLayers.findIndex((l, i) => appLayers[i]?.digest !== l.digest);
  if (mismatch >= 0 || oldLayers.length > appLayers.length) {
    const at = mismatch >= 0 ? mismatch : appLayers.length;
    throw new OciError(
      'MANIFEST_INVALID',
      `the old base's layers are not the first layers of the app (layer ${at} differs): give the base the app ` +
        'was built on as --old-base',
    );
  }
  const [oldCfg, newCfg] = [await oldImg.config(), await newImg.config()];
  const [appPlatform, newPlatform] = [await appImg.platform(), await newImg.platform()];
  if (!platformMatches(appPlatform, newPlatform))
    throw new OciError(
      'MANIFEST_INVALID',
      `the new base is ${formatPlatform(newPlatform)}, the app ${formatPlatform(appPlatform)}: pick the new base's ` +
        `image for ${formatPlatform(appPlatform)} with --platform`,
    );
  const docker = app.descriptor.mediaType === MediaTypes.DockerManifest;
  return rebuildImage(app, ({ manifest, config, routes }) => {
    const base = newImg.manifest.layers.map((l) => {
      routes.set(l.digest, newBase.blobs);
      // The new base's layers take the app manifest's kind of media type (Docker or OCI).
      const c = mediaTypeCompression(l.mediaType);
      return c ? { ...l, mediaType: layerMediaType(docker, c) } : l;
    });
    manifest.layers = [...base, ...appLayers.slice(oldLayers.length)];
    config.rootfs.diff_ids = [
      ...newCfg.rootfs.diff_ids,
      ...config.rootfs.diff_ids.slice(oldCfg.rootfs.diff_ids.length),
    ];
    if (config.history) {
      const oldHistory = oldCfg.history ?? [];
      const cut = oldHistory.length ? oldHistory.length : historyPrefix(config.history, oldLayers.length);
      config.history = [...(newCfg.history ?? []), ...config.history.slice(cut)];
    }
  });
}

/** Matches an index entry by digest (or digest prefix of 12+ hex) or by platform. */
export type EntryMatch = { digest: string } | { platform: Platform };

function matches(d: Descriptor, m: EntryMatch): boolean {
  if ('digest' in m) return d.digest === m.digest || (m.digest.length >= 19 && d.digest.startsWith(m.digest));
  return !!d.platform && platformMatches(m.platform, d.platform);
}

function describeMatch(m: EntryMatch): string {
  return 'digest' in m ? m.digest : formatPlatform(m.platform);
}

/** Routes each kept child's blobs through the index's reader (they are unchanged). */
function editIndex(a: Artifact, change: (manifests: Descriptor[]) => Descriptor[]): Artifact {
  if (!isIndex(a)) throw new OciError('MANIFEST_INVALID', `${a.descriptor.digest} is an image, not an index`);
  const idx = openIndex(a);
  const doc = { ...structuredClone(idx.index), manifests: change(structuredClone(idx.manifests)) };
  return finish(a.descriptor.mediaType, doc, new Map<Digest, Buffer>(), [a.blobs as BlobReader]);
}

/** The index without the entries `match` names (and their attestations); naming none is an error. */
export function removeFromIndex(a: Artifact, match: EntryMatch[]): Artifact {
  return editIndex(a, (manifests) => {
    for (const m of match)
      if (!manifests.some((d) => matches(d, m)))
        throw new OciError('MANIFEST_UNKNOWN', `the index has no entry ${describeMatch(m)}: see kura manifest inspect`);
    const gone = new Set(manifests.filter((d) => match.some((m) => matches(d, m))).map((d) => d.digest));
    const kept = manifests.filter(
      (d) => !gone.has(d.digest) && !gone.has(d.annotations?.['vnd.docker.reference.digest'] as Digest),
    );
    if (!kept.length) throw new OciError('MANIFEST_INVALID', 'that would leave the index empty: delete it instead');
    return kept;
  });
}

/** Sets (and with `remove`, deletes) annotations on the entries `match` names. */
export function annotateIndexEntry(
  a: Artifact,
  match: EntryMatch,
  annotations: Record<string, string>,
  remove: string[] = [],
): Artifact {
  return editIndex(a, (manifests) => {
    const hit = manifests.filter((d) => matches(d, match));
    if (!hit.length)
      throw new OciError(
        'MANIFEST_UNKNOWN',
        `the index has no entry ${describeMatch(match)}: see kura manifest inspect`,
      );
    for (const d of hit) {
      const next = { ...d.annotations, ...annotations };
      for (const k of remove) delete next[k];
      if (Object.keys(next).length) d.annotations = next;
      else delete d.annotations;
    }
    return manifests;
  });
}
