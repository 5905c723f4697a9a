/**
 * Helpers of the replication tests: test content as an Artifact, a registry client for a side (TLS CA file,
 * credentials), polling, and a repository's tags with their digests (what "the same content" means there).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Artifact, Descriptor } from '../oci/artifact.js';
import type { Credentials } from '../transports/registry/credentials.js';
import { RegistryClient } from '../transports/registry/client.js';
import type { RegistryRepository } from '../transports/registry/repository.js';
import { makeImage, makeIndex, type Content, type TestImage } from './content.js';

/** `root` with everything under it (child manifests, configs, layers) readable by digest. */
export function artifactOf(root: Content, parts: Content[]): Artifact {
  const byDigest = new Map(parts.map((p) => [p.digest as string, p.bytes]));
  return {
    descriptor: { mediaType: root.mediaType, digest: root.digest, size: root.size },
    manifest: root.bytes,
    blobs: {
      open: async (d: Descriptor) => {
        const bytes = byDigest.get(d.digest);
        if (!bytes) throw new Error(`test content has no ${d.digest}`);
        return Readable.from([bytes]);
      },
    },
  };
}

export function imageArtifact(img: TestImage): Artifact {
  return artifactOf(img.manifest, [img.config, ...img.layers]);
}

/** A two-platform OCI index over two fresh images, as one artifact. */
export function indexArtifact(): { artifact: Artifact; children: TestImage[] } {
  const children = [makeImage(), makeImage({ layers: 2 })];
  const index = makeIndex([
    { manifest: children[0]!.manifest, platform: { os: 'linux', architecture: 'amd64' } },
    { manifest: children[1]!.manifest, platform: { os: 'linux', architecture: 'arm64' } },
  ]);
  const parts = children.flatMap((c) => [c.manifest, c.config, ...c.layers]);
  return { artifact: artifactOf(index, parts), children };
}

/** A repository of the registry at `host` (127.0.0.1:PORT), over HTTPS when `caFile` is given. */
export function repository(
  host: string,
  repo: string,
  o: { caFile?: string; credentials?: Credentials } = {},
): RegistryRepository {
  const client = new RegistryClient({
    registry: host,
    ...(o.caFile ? { caFile: o.caFile, plainHttp: false } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  });
  return client.repository(repo);
}

/** Every tag of a repository with the digest it names (empty when the repository does not exist). */
export async function tagDigests(repo: RegistryRepository): Promise<Map<string, string>> {
  let tags: string[];
  try {
    tags = await repo.tags();
  } catch (e) {
    if ((e as { code?: string }).code === 'NAME_UNKNOWN') return new Map();
    throw e;
  }
  const out = new Map<string, string>();
  for (const t of tags.sort()) out.set(t, (await repo.head(t)).descriptor.digest);
  return out;
}

/** Polls `check` until it holds (15 s at most). */
export async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} within 15 s`);
}
