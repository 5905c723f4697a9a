// The files page (/ui/r/REPO/m/DIGEST/files): dive in the browser. One directory of the image's tree (all layers
// stacked, or up to one layer) sorted by size, the layer that wrote each path, wasted bytes marked; layer summary.
import type { FlatEntry } from '../../analysis/fs-tree.js';
import { modeString } from '../../analysis/files.js';
import type { PathWaste } from '../../analysis/waste.js';
import { SizeBar } from '../chart.js';
import type { Ctx } from '../context.js';
import { bytes } from '../format.js';
import { Page } from '../layout.js';

export const FILE_ROWS = 200;

export interface FilesData {
  repo: string;
  digest: string;
  /** Root-relative directory shown (`.` the root) or a single entry. */
  dir: string;
  /** null: all layers; else the top layer stacked. */
  layer: number | null;
  sort: 'size' | 'name';
  page: number;
  rows: { e: FlatEntry; size: number; waste: PathWaste | undefined; wastedBelow: number }[];
  total: number;
  layers: { size: number; added: number; modified: number; removed: number; digest: string }[];
  efficiency: number;
  wastedBytes: number;
  topWaste: PathWaste[];
}

export function filesUrl(d: { repo: string; digest: string }, q: Partial<FilesData>): string {
  const p = new URLSearchParams();
  if (q.layer !== undefined && q.layer !== null) p.set('layer', String(q.layer));
  if (q.dir && q.dir !== '.') p.set('path', `/${q.dir}`);
  if (q.sort === 'name') p.set('sort', 'name');
  if (q.page) p.set('page', String(q.page));
  const s = p.toString();
  return `/ui/r/${d.repo}/m/${d.digest}/files${s ? `?${s}` : ''}`;
}

function Crumbs({ d }: { d: FilesData }) {
  const parts = d.dir === '.' ? [] : d.dir.split('/');
  return (
    <nav aria-label="Path" class="mono">
      <a href={filesUrl(d, { ...d, dir: '.', page: 0 })}>/</a>
      {parts.map((name, i) => {
        const dir = parts.slice(0, i + 1).join('/');
        return (
          <>
            <a href={filesUrl(d, { ...d, dir, page: 0 })}>{name}</a>
            {i < parts.length - 1 ? '/' : ''}
          </>
        );
      })}
    </nav>
  );
}

function Layers({ d }: { d: FilesData }) {
  const max = Math.max(1, ...d.layers.map((l) => l.size));
  return (
    <table>
      <caption class="skip">Layers</caption>
      <thead>
        <tr>
          <th scope="col">Layer</th>
          <th scope="col" class="num">
            Files
          </th>
          <th scope="col">Share</th>
          <th scope="col">Added / changed / removed</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <td>
            {d.layer === null ? (
              <b>All layers</b>
            ) : (
              <a href={filesUrl(d, { ...d, layer: null, page: 0 })}>All layers</a>
            )}
          </td>
          <td class="num">{bytes(d.layers.reduce((s, l) => s + l.size, 0))}</td>
          <td />
          <td />
        </tr>
        {d.layers.map((l, i) => (
          <tr key={i}>
            <td>
              {d.layer === i ? (
                <b>{`Layer ${i + 1}`}</b>
              ) : (
                <a href={filesUrl(d, { ...d, layer: i, page: 0 })}>{`Layer ${i + 1}`}</a>
              )}
            </td>
            <td class="num">{bytes(l.size)}</td>
            <td>
              <SizeBar fraction={l.size / max} label={`layer ${i + 1}: ${bytes(l.size)}`} />
            </td>
            <td>{`${l.added} / ${l.modified} / ${l.removed}`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function FilesPage({ ctx, d }: { ctx: Ctx; d: FilesData }) {
  const pages = Math.ceil(d.total / FILE_ROWS);
  const where = d.layer === null ? 'all layers' : `layers 1–${d.layer + 1}`;
  return (
    <Page ctx={ctx} title={`Files of ${d.repo}@${d.digest.slice(0, 19)}`} section="/ui/repos">
      <p>
        <a href={`/ui/r/${d.repo}/m/${d.digest}`}>Back to the manifest</a>
      </p>
      <p>
        {`Efficiency ${(d.efficiency * 100).toFixed(1)} %, `}
        <span class={d.wastedBytes > 0 ? 'warn' : undefined}>{`${bytes(d.wastedBytes)} wasted`}</span>
        {' (bytes of copies the final image does not keep: N−1 copies of a file written N times).'}
      </p>
      <Layers d={d} />
      <h2>{`Tree (${where})`}</h2>
      <Crumbs d={d} />
      <form class="bar" method="get" action={`/ui/r/${d.repo}/m/${d.digest}/files`}>
        {d.layer !== null ? <input type="hidden" name="layer" value={String(d.layer)} /> : null}
        <label>
          Path
          <input name="path" value={`/${d.dir === '.' ? '' : d.dir}`} />
        </label>
        <label>
          Sort
          <select name="sort">
            <option value="size" selected={d.sort === 'size'}>
              Size, largest first
            </option>
            <option value="name" selected={d.sort === 'name'}>
              Name
            </option>
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      {d.rows.length === 0 ? (
        <p>This directory is empty.</p>
      ) : (
        <table>
          <caption class="skip">{`Paths in /${d.dir === '.' ? '' : d.dir}`}</caption>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Mode</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">Layer</th>
              <th scope="col">Waste</th>
            </tr>
          </thead>
          <tbody>
            {d.rows.map(({ e, size, waste, wastedBelow }) => {
              const name = e.path.slice(e.path.lastIndexOf('/') + 1);
              const shown = e.type === 'symlink' ? `${name} → ${e.link ?? ''}` : name;
              const w = waste ? waste.wasted : wastedBelow;
              return (
                <tr key={e.path}>
                  <td class="mono">
                    {e.type === 'dir' ? <a href={filesUrl(d, { ...d, dir: e.path, page: 0 })}>{`${name}/`}</a> : shown}
                  </td>
                  <td class="mono">{modeString(e)}</td>
                  <td class="num">{e.type === 'dir' || e.type === 'file' ? bytes(size) : ''}</td>
                  <td>{d.layer === e.layer ? <b>{`${e.layer + 1} (this)`}</b> : e.layer + 1}</td>
                  <td class={w > 0 ? 'warn' : undefined}>
                    {waste ? `${bytes(waste.wasted)} in ${waste.count} layers` : w > 0 ? `${bytes(w)} below` : ''}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {d.page > 0 ? <a href={filesUrl(d, { ...d, page: d.page - 1 })}>Previous page</a> : null}
        {pages > 1 ? <span>{`Page ${d.page + 1} of ${pages} (${d.total} paths)`}</span> : null}
        {d.page + 1 < pages ? <a href={filesUrl(d, { ...d, page: d.page + 1 })}>Next page</a> : null}
      </nav>
      <h2>Wasted space</h2>
      {d.topWaste.length === 0 ? (
        <p>No file is written in more than one layer.</p>
      ) : (
        <table>
          <caption class="skip">Paths written in several layers</caption>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col" class="num">
                Wasted
              </th>
              <th scope="col">Layers</th>
            </tr>
          </thead>
          <tbody>
            {d.topWaste.map((w) => (
              <tr key={w.path}>
                <td class="mono">{`/${w.path}${w.removed ? ' (removed)' : ''}`}</td>
                <td class="num">{bytes(w.wasted)}</td>
                <td>{w.layers.map((l) => l + 1).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
