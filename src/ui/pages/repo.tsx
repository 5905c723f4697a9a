// The repository page (/ui/r/REPO): tags with kind, size, digest, the tags sharing it and vulnerability counts,
// filter, sort, keyset paging, and (for those allowed) untag, bulk untag, delete manifest and retag forms.
import type { ComponentChildren } from 'preact';
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

/** A time without the " UTC" the column header says once. */
const utc = (ms: number | null) => when(ms).replace(/ UTC$/, '');

function sizeText(r: TagRow): string {
  if (r.size === null) return 'unknown';
  return r.kind === 'index' ? `${bytes(r.size)} in ${r.children} manifests` : bytes(r.size);
}

function Kind({ r }: { r: TagRow }) {
  const label = r.kind === 'artifact' ? `artifact ${r.artifactType}` : r.kind;
  // Styled as a badge by the stylesheet (.tags td:nth-child(2)>span): no class on 100s of rows.
  return <span>{label}</span>;
}

/** The untag form around the tag table (its checkboxes and Untag buttons submit it), when the viewer may untag. */
function UntagForm(props: { ctx: Ctx; repo: string; on: boolean; children: ComponentChildren }) {
  if (!props.on) return <>{props.children}</>;
  return (
    <form id="act-untag" method="post" action={`/ui/r/${props.repo}/untag`}>
      <Csrf ctx={props.ctx} />
      {props.children}
    </form>
  );
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
        <form id="del" method="post" action={`/ui/r/${repo}/delete`}>
          <Csrf ctx={ctx} />
        </form>
      ) : null}
      <UntagForm ctx={ctx} repo={repo} on={canDelete}>
        {page.rows.length === 0 ? (
          <p>{query.q ? `No tag matches “${query.q}”.` : 'This repository has no tags.'}</p>
        ) : (
          <table class="tags">
            <caption class="skip">Tags of {repo}</caption>
            <thead>
              <tr>
                <th scope="col">{canDelete ? 'Select, tag' : 'Tag'}</th>
                <th scope="col">Kind</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Digest</th>
                <th scope="col">Tags on this digest</th>
                <th scope="col">Pushed (UTC)</th>
                <th scope="col">Last pulled (UTC)</th>
                <th scope="col">Vulnerabilities</th>
                {canDelete ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {page.rows.map((r) => (
                <tr key={r.name}>
                  <td>
                    {canDelete ? (
                      <label>
                        <input type="checkbox" name="tag" value={r.name} />
                        <a href={`/ui/r/${repo}/t/${r.name}`}>{r.name}</a>
                      </label>
                    ) : (
                      <a href={`/ui/r/${repo}/t/${r.name}`}>{r.name}</a>
                    )}
                  </td>
                  <td>
                    <Kind r={r} />
                  </td>
                  <td>{sizeText(r)}</td>
                  <td>{r.digest.slice(r.digest.indexOf(':') + 1).slice(0, 12)}</td>
                  {r.sameDigest.length === 1 ? (
                    <td class="muted">only this one</td>
                  ) : (
                    <td class="warn">{`${r.sameDigest.length} tags: ${r.sameDigest.join(', ')}`}</td>
                  )}
                  <td>{utc(r.pushedAt)}</td>
                  <td>{utc(r.pulledAt)}</td>
                  <td>{r.vulns}</td>
                  {canDelete ? (
                    <td>
                      <button name="tag" value={r.name}>
                        Untag
                      </button>{' '}
                      <button form="del" name="digest" value={r.digest}>
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
            <button name="bulk" value="1">
              Untag selected
            </button>{' '}
            <span class="muted">Untagging removes only the tag; other tags on the same digest stay.</span>
          </p>
        ) : null}
      </UntagForm>
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
