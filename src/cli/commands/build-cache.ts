/**
 * `kura build --cache-to/--cache-from`: the layer cache as an OCI artifact (one gzip layer per build step, its cache
 * key in an annotation), written to a registry (`type=registry,ref=REF`) or an OCI layout (`type=local,dest=DIR`)
 * and read back into the local build cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Artifact, Descriptor } from '../../oci/artifact.js';
import { openVerified } from '../../oci/blob.js';
import { digestOf, type Digest } from '../../oci/digest.js';
import { MediaTypes } from '../../oci/mediatypes.js';
import { UsageError } from '../errors.js';

/** The annotation on each layer of a cache artifact: the build step's cache key. */
export const CACHE_KEY_ANNOTATION = 'dev.kura.build.cache.key';
export const CACHE_ARTIFACT_TYPE = 'application/vnd.kura.build.cache.v1+json';

/**
 * A location (`docker://REF`, `oci:DIR:TAG`) for buildx's `--cache-to`/`--cache-from` value: `type=registry,ref=REF`,
 * `type=local,dest=DIR` (to) or `type=local,src=DIR` (from), `tag=` for a layout's tag (default `latest`); a bare
 * `REF` is a registry reference, as buildx takes it.
 */
export function cacheLocation(spec: string, flag: '--cache-to' | '--cache-from'): string {
  if (!spec.includes('=')) return `docker://${spec}`;
  const o = new Map(spec.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as const));
  const type = o.get('type') ?? 'registry';
  const dirKey = flag === '--cache-to' ? 'dest' : 'src';
  if (type === 'registry') {
    if (!o.get('ref')) throw new UsageError(`${flag} ${spec}: a registry cache needs ref=REGISTRY/REPO:TAG`);
    return `docker://${o.get('ref')}`;
  }
  if (type === 'local') {
    if (!o.get(dirKey)) throw new UsageError(`${flag} ${spec}: a local cache needs ${dirKey}=DIRECTORY`);
    return `oci:${o.get(dirKey)}:${o.get('tag') ?? 'latest'}`;
  }
  throw new UsageError(
    `${flag} type=${type} is not supported: use type=registry,ref=REF or type=local,${dirKey}=DIRECTORY`,
  );
}

async function fileDigest(file: string): Promise<{ digest: Digest; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  await pipeline(createReadStream(file), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) {
      h.update(c);
      size += c.length;
    }
  });
  return { digest: `sha256:${h.digest('hex')}` as Digest, size };
}

/** The cache artifact for `entries` (cache key → cached gzip layer file), in the order the build met them. */
export async function cacheArtifact(entries: Map<string, string>): Promise<Artifact> {
  const files = new Map<string, string>();
  const layers: Descriptor[] = [];
  for (const [key, file] of entries) {
    const { digest, size } = await fileDigest(file);
    files.set(digest, file);
    layers.push({ mediaType: MediaTypes.OciLayerGzip, digest, size, annotations: { [CACHE_KEY_ANNOTATION]: key } });
  }
  const config = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      artifactType: CACHE_ARTIFACT_TYPE,
      config: { mediaType: MediaTypes.OciEmpty, digest: digestOf(config), size: config.length },
      layers,
    }),
  );
  return {
    descriptor: { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length },
    manifest,
    blobs: {
      open: async (d) => (files.has(d.digest) ? createReadStream(files.get(d.digest)!) : Readable.from([config])),
    },
  };
}

/** Reads a cache artifact's layers into the local build cache (through `keep`); returns how many were new. */
export async function importCache(
  a: Artifact,
  keep: (key: string, gz: () => Promise<Readable>) => Promise<boolean>,
): Promise<number> {
  const m = JSON.parse(a.manifest.toString()) as { artifactType?: string; layers?: Descriptor[] };
  if (m.artifactType !== CACHE_ARTIFACT_TYPE)
    throw new UsageError(`it is not a kura build cache (artifactType ${m.artifactType ?? 'none'}): give a --cache-to`);
  let n = 0;
  for (const l of m.layers ?? []) {
    const key = l.annotations?.[CACHE_KEY_ANNOTATION];
    if (key && (await keep(key, () => openVerified(a.blobs, l)))) n++;
  }
  return n;
}
