/**
 * A repository of this server as the sync engine's medium, read and written in-process through the Registry
 * services: replication never goes through the server's own port, so it works with authentication and TLS on.
 */
import type { Artifact, Descriptor } from '../oci/artifact.js';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { loadTree, treeBlobs, treeManifests } from '../oci/tree.js';
import { RepositoryGraph } from '../http/verify-graph.js';
import type { Registry } from '../registry/registry.js';
import type { LocalMedium } from '../replication/index.js';

type GraphStore = ReturnType<LocalMedium['graph']>;

/** Reads (no pull recorded), writes blobs before the manifests naming them, lists and deletes tags. */
export class LocalRepository implements LocalMedium, GraphStore {
  private readonly reader: RepositoryGraph;

  constructor(
    private readonly registry: Registry,
    private readonly repo: string,
  ) {
    this.reader = new RepositoryGraph(registry, repo);
  }

  get name(): string {
    return this.repo;
  }

  graph(): GraphStore {
    return this;
  }

  get(ref: string): Promise<Artifact> {
    return this.reader.get(ref);
  }

  find(tag: string): Promise<Artifact | undefined> {
    return this.reader.find(tag);
  }

  referrers(digest: Digest): Promise<Descriptor[]> {
    return this.reader.referrers(digest);
  }

  async tags(): Promise<string[]> {
    const out: string[] = [];
    for (let last: string | undefined; ; ) {
      let page;
      try {
        page = await this.registry.listTags(this.repo, { n: 1000, last });
      } catch (e) {
        if (e instanceof OciError && e.code === 'NAME_UNKNOWN') return out;
        throw e;
      }
      out.push(...page.items);
      if (page.items.length < 1000) return out;
      last = page.items[page.items.length - 1];
    }
  }

  /** Blobs first (kept, mounted from another repository of this registry, or uploaded), then child manifests. */
  async write(ref: string, a: Artifact): Promise<Descriptor> {
    const tree = await loadTree(a);
    for (const b of treeBlobs(tree)) await this.blob(b, a);
    for (const node of treeManifests(tree)) {
      const root = node.descriptor.digest === a.descriptor.digest;
      await this.registry.putManifest(
        this.repo,
        root ? ref : node.descriptor.digest,
        node.descriptor.mediaType,
        node.manifest,
      );
    }
    return a.descriptor;
  }

  put(ref: string, a: Artifact): Promise<Descriptor> {
    return this.write(ref, a);
  }

  putReferrer(a: Artifact): Promise<Descriptor> {
    return this.write(a.descriptor.digest, a);
  }

  delete(ref: string): Promise<void> {
    return this.registry.deleteManifest(this.repo, ref);
  }

  private async blob(d: Descriptor, a: Artifact): Promise<void> {
    try {
      await this.registry.statBlob(this.repo, d.digest);
      return;
    } catch (e) {
      if (!(e instanceof OciError && e.code === 'BLOB_UNKNOWN')) throw e;
    }
    if (await this.registry.mountDiscovered(this.repo, d.digest, () => true)) return;
    await this.registry.monolithicUpload(this.repo, d.digest, await a.blobs.open(d), d.size);
  }
}
