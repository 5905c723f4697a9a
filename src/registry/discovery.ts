/** Listing: tags, repositories (the catalog) and referrers, a page at a time. */
import type { ManifestRecord, Page } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { RegistryCore } from './core.js';

/** Referrers per answer of the referrers API (more: a Link to the next page). */
export const REFERRERS_PAGE = 100;

/** Pagination the HTTP layer renders into `Link` headers. */
export interface PageResult<T> {
  items: T[];
  /** Set when more results follow: the `last` value of the next page. */
  next: string | null;
}

export class DiscoveryService {
  constructor(private readonly core: RegistryCore) {}

  async listTags(repo: string, page: Page): Promise<PageResult<string>> {
    const n = this.pageSize(page.n);
    const limit = n === undefined ? undefined : n + 1;
    const tags = await this.core.lookups.get(`t\0${repo}\0${page.last ?? ''}\0${limit ?? ''}`, () =>
      this.core.meta.manifests.listTags(repo, { last: page.last, n: limit }),
    );
    if (tags === null) throw new OciError('NAME_UNKNOWN', `repository ${repo} not known to registry`, { name: repo });
    return paginate(tags, n);
  }

  async listRepositories(page: Page): Promise<PageResult<string>> {
    const n = this.pageSize(page.n);
    const repos = await this.core.meta.manifests.listRepositories({
      last: page.last,
      n: n === undefined ? undefined : n + 1,
    });
    return paginate(repos, n);
  }

  /**
   * Referrers of `subject` in `repo`, ordered by digest, a page at a time: at most `n` (default and
   * cap: REFERRERS_PAGE) after the digest `last`; `next` is set when there are more.
   */
  async referrers(
    repo: string,
    subject: Digest,
    artifactType?: string,
    page: Page = {},
  ): Promise<PageResult<ManifestRecord>> {
    const n = Math.min(page.n ?? REFERRERS_PAGE, REFERRERS_PAGE);
    const recs = await this.core.meta.manifests.listReferrers(repo, subject, artifactType, {
      last: page.last,
      n: n + 1,
    });
    const items = recs.slice(0, n);
    return { items, next: recs.length > n && items.length > 0 ? items[items.length - 1]!.digest : null };
  }

  private pageSize(n: number | undefined): number | undefined {
    if (n === undefined) return undefined;
    const max = this.core.options.pageMax;
    if (!Number.isSafeInteger(n) || n < 0 || n > max) {
      throw new OciError('PAGINATION_NUMBER_INVALID', `n must be an integer from 0 to ${max}`, { n });
    }
    return n;
  }
}

function paginate(items: string[], n: number | undefined): PageResult<string> {
  if (n === undefined || items.length <= n) return { items, next: null };
  const page = items.slice(0, n);
  return { items: page, next: page.length > 0 ? page[page.length - 1]! : null };
}
