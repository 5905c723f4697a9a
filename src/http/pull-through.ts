/** The hook of a pull-through cache in manifest and blob reads (implemented in src/proxy/, wired by src/server/). */
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

export interface PullThrough {
  /**
   * The local repository that serves a request's name when an upstream does (by path prefix, containerd's `ns=`, or
   * as the Docker Hub mirror for `library/` names); undefined when the name is not proxied.
   */
  route(repo: string, ns: string | null): string | undefined;
  /** Before a manifest read of a proxied repository: fetches or revalidates it; a `Warning` header when stale. */
  manifest(repo: string, reference: string): Promise<string | undefined>;
  /**
   * Before a blob read: undefined when the repository holds the blob; else its size and (for a GET) its bytes from
   * upstream, stored while the client reads them.
   */
  blob(repo: string, digest: Digest, head: boolean): Promise<{ size?: number; stream?: Readable } | undefined>;
  /** Waits for what is being stored (the server calls it before closing the registry). */
  close(): Promise<void>;
  /** The upstreams' state, for the admin API (`GET /admin/v1/proxy`). */
  status(): unknown;
}
