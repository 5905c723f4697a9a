// The repository page (/ui/r/REPO): tags with kind, size, digest and the tags sharing it, filter, sort,
// keyset paging, and (for those allowed) untag, bulk untag, delete manifest and retag forms.
import type { Ctx } from '../context.js';
import { bytes, when } from '../format.js';
import { Csrf, Page } from '../layout.js';
import { PAGE_SIZES, type TagQuery, type TagRow, type TagsPage, type TagSort } from '../tags.js';

const SORT_LABELS: Record<TagSort, string> = {
  name: 'Name A–Z',
  '-name': 'Name Z–A',
  natural: 'Natural (v2 < v10)',
  '-natural': 'Natural, reversed',
  semver: 'Semantic version, oldest first',
  '-semver': 'Semantic version, newest first',
  pushed: 'Pushed, oldest first',
  '-pushed': 'Pushed, newest first',
};

export function tagsUrl(repo: string, q: Omit<TagQuery, 'after'>, after?: string): string {
  const p = new URLSearchParams();
  if (q.q) p.set('q', q.q);
  if (q.sort !== '-pushed') p.set('sort', q.sort);
  if (q.n !== 100) p.set('n', String(q.n));
  if (after !== undefined) p.set('after', after);
  const s = p.toString();
  return `/ui/r/${repo}${s ? `?${s}` : ''}`;
}

function sizeText(r: TagRow): string {
  if (r.size === null) return 'unknown';
  return r.kind === 'index' ? `${bytes(r.size)} in ${r.children} manifests` : bytes(r.size);
}

function Kind({ r }: { r: TagRow }) {
  const label = r.kind === 'artifact' ? `artifact ${r.artifactType}` : r.kind;
  return <span class="badge">{label}</span>;
}

export interface RepoData {
  repo: string;
  query: TagQuery;
  page: TagsPage;
  notice: string | null;
}

export function RepoPage({ ctx, data }: { ctx: Ctx; data: RepoData }) {
  const { repo, query, page } = data;
  const canDelete = ctx.viewer.can(repo, 'delete');
  const canPush = ctx.viewer.can(repo, 'push');
  return (
    <Page ctx={ctx} title={repo} section="/ui/repos">
      {data.notice ? (
        <p role="status" class="card">
          {data.notice}
        </p>
      ) : null}
      <p>
        Pull: <code>{`${ctx.host}/${repo}:TAG`}</code>
      </p>
      <form class="bar" method="get" action={`/ui/r/${repo}`} role="search">
        <label>
          Filter tags
          <input type="search" name="q" value={query.q} placeholder="substring, or a glob like v1.*" />
        </label>
        <label>
          Sort
          <select name="sort">
            {Object.entries(SORT_LABELS).map(([v, l]) => (
              <option key={v} value={v} selected={query.sort === v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Per page
          <select name="n">
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)} selected={query.n === n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      <p class="muted">{`${page.matched} of ${page.total} tags`}</p>
      {canDelete ? (
        <>
          <form id="act-untag" method="post" action={`/ui/r/${repo}/untag`}>
            <Csrf ctx={ctx} />
          </form>
          <form id="act-delete" method="post" action={`/ui/r/${repo}/delete`}>
            <Csrf ctx={ctx} />
          </form>
        </>
      ) : null}
      {page.rows.length === 0 ? (
        <p>{query.q ? `No tag matches “${query.q}”.` : 'This repository has no tags.'}</p>
      ) : (
        <table>
          <caption class="skip">Tags of {repo}</caption>
          <thead>
            <tr>
              {canDelete ? <th scope="col">Select</th> : null}
              <th scope="col">Tag</th>
              <th scope="col">Kind</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">Digest</th>
              <th scope="col">Tags on this digest</th>
              <th scope="col">Pushed</th>
              <th scope="col">Last pulled</th>
              {canDelete ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {page.rows.map((r) => (
              <tr key={r.name}>
                {canDelete ? (
                  <td>
                    <input type="checkbox" form="act-untag" name="tag" value={r.name} aria-label={`Select ${r.name}`} />
                  </td>
                ) : null}
                <td>
                  <a href={`/ui/r/${repo}/t/${r.name}`}>{r.name}</a>
                </td>
                <td>
                  <Kind r={r} />
                </td>
                <td class="num">{sizeText(r)}</td>
                <td>
                  <a class="mono" href={`/ui/r/${repo}/m/${r.digest}`}>
                    {r.digest.slice(0, 19)}
                  </a>
                </td>
                <td>
                  {r.sameDigest.length === 1 ? (
                    <span class="muted">only this one</span>
                  ) : (
                    <span class="warn">{`${r.sameDigest.length} tags: ${r.sameDigest.join(', ')}`}</span>
                  )}
                </td>
                <td>{when(r.pushedAt)}</td>
                <td>{when(r.pulledAt)}</td>
                {canDelete ? (
                  <td>
                    <button type="submit" form="act-untag" name="tag" value={r.name}>
                      Untag
                    </button>{' '}
                    <button type="submit" form="act-delete" name="digest" value={r.digest} class="danger">
                      {r.sameDigest.length > 1 ? `Delete manifest (removes ${r.sameDigest.length} tags)` : 'Delete'}
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canDelete && page.rows.length > 0 ? (
        <p>
          <button type="submit" form="act-untag" name="bulk" value="1">
            Untag selected
          </button>{' '}
          <span class="muted">Untagging removes only the tag; other tags on the same digest stay.</span>
        </p>
      ) : null}
      <nav class="pager" aria-label="Pages">
        {query.after !== null ? <a href={tagsUrl(repo, query)}>First page</a> : null}
        {page.next !== null ? <a href={tagsUrl(repo, query, page.next)}>Next page</a> : null}
      </nav>
      {canPush ? (
        <section aria-labelledby="retag">
          <h2 id="retag">Add a tag</h2>
          <form class="bar" method="post" action={`/ui/r/${repo}/retag`}>
            <Csrf ctx={ctx} />
            <label>
              Existing tag or digest
              <input name="from" required />
            </label>
            <label>
              New tag
              <input name="to" required pattern="[A-Za-z0-9_][A-Za-z0-9._-]{0,127}" />
            </label>
            <button type="submit">Tag</button>
          </form>
        </section>
      ) : null}
    </Page>
  );
}
