// The repository list (/ui/repos): server-side search (substring or glob), sort by name, keyset paging, and each
// repository's vulnerability counts (the worst scan among the images its 100 newest tags reach).
import type { Ctx } from '../context.js';
import { Page } from '../layout.js';
import { RECENT_TAGS } from '../scan-counts.js';

export interface ReposData {
  q: string;
  sort: 'name' | '-name';
  n: number;
  names: string[];
  /** Per shown repository: the worst counts among the images its newest tags reach, or why there are none. */
  vulns: Map<string, string>;
  matched: number;
  next: string | null;
  /** Whether this page is not the first (a link back to the start). */
  paged: boolean;
}

export function reposUrl(d: Pick<ReposData, 'q' | 'sort' | 'n'>, after?: string): string {
  const p = new URLSearchParams();
  if (d.q) p.set('q', d.q);
  if (d.sort !== 'name') p.set('sort', d.sort);
  if (d.n !== 100) p.set('n', String(d.n));
  if (after !== undefined) p.set('after', after);
  const s = p.toString();
  return s ? `/ui/repos?${s}` : '/ui/repos';
}

export function Repos({ ctx, data }: { ctx: Ctx; data: ReposData }) {
  return (
    <Page ctx={ctx} title="Repositories" section="/ui/repos">
      <form class="bar" method="get" action="/ui/repos" role="search">
        <label>
          Search
          <input type="search" name="q" value={data.q} placeholder="name, or a glob like team/*" />
        </label>
        <label>
          Sort
          <select name="sort">
            <option value="name" selected={data.sort === 'name'}>
              Name A–Z
            </option>
            <option value="-name" selected={data.sort === '-name'}>
              Name Z–A
            </option>
          </select>
        </label>
        <label>
          Per page
          <select name="n">
            {[50, 100, 500, 1000].map((n) => (
              <option key={n} value={String(n)} selected={data.n === n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      <p class="muted">{`${data.matched} ${data.matched === 1 ? 'repository' : 'repositories'}`}</p>
      {data.names.length === 0 ? (
        <p>{data.q ? `No repository matches “${data.q}”.` : 'No repositories you may pull from.'}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Repository</th>
              <th scope="col">Pull</th>
              <th scope="col">{`Vulnerabilities (newest ${RECENT_TAGS} tags)`}</th>
            </tr>
          </thead>
          <tbody>
            {data.names.map((name) => (
              <tr key={name}>
                <td>
                  <a href={`/ui/r/${name}`}>{name}</a>
                </td>
                <td class="mono">{`${ctx.host}/${name}`}</td>
                <td>{data.vulns.get(name) ?? 'not scanned'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {data.paged ? <a href={reposUrl(data)}>First page</a> : null}
        {data.next !== null ? <a href={reposUrl(data, data.next)}>Next page</a> : null}
      </nav>
    </Page>
  );
}
