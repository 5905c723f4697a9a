// The diff page (/ui/r/REPO/m/DIGEST/diff?with=REF): what `kura diff` reports for two manifests of a repository:
// files added, removed and changed (by content digest), config changes, shared layers; the file list paged.
import type { DiffReport, FileChange } from '../../analysis/diff.js';
import type { Ctx } from '../context.js';
import { bytes } from '../format.js';
import { Page } from '../layout.js';

export const DIFF_ROWS = 200;
const KIND_WORDS = { A: 'added', D: 'removed', C: 'changed' } as const;

export interface DiffData {
  repo: string;
  digest: string;
  /** The reference compared with, as asked (tag or digest). */
  with: string;
  /** null when no reference is asked for yet (the page shows the form). */
  report: DiffReport | null;
  kind: '' | 'A' | 'D' | 'C';
  page: number;
  files: FileChange[];
  matched: number;
  tags: string[];
}

function diffUrl(d: DiffData, over: Partial<Pick<DiffData, 'kind' | 'page'>>): string {
  const p = new URLSearchParams({ with: d.with });
  const kind = over.kind ?? d.kind;
  const page = over.page ?? d.page;
  if (kind) p.set('kind', kind);
  if (page) p.set('page', String(page));
  return `/ui/r/${d.repo}/m/${d.digest}/diff?${p}`;
}

const json = (v: unknown) => (v === null || v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

function fileText(f: FileChange): string {
  const s = f.after ?? f.before!;
  const size = s.type === 'file' ? bytes(s.size) : s.type;
  if (f.kind !== 'C') return size;
  return `${f.fields!.join(', ')}: ${f.before!.type === 'file' ? bytes(f.before!.size) : f.before!.type} → ${size}`;
}

export function DiffPage({ ctx, d }: { ctx: Ctx; d: DiffData }) {
  const r = d.report;
  const pages = Math.ceil(d.matched / DIFF_ROWS);
  return (
    <Page ctx={ctx} title={`Diff of ${d.repo}@${d.digest.slice(0, 19)}`} section="/ui/repos">
      <p>
        <a href={`/ui/r/${d.repo}/m/${d.digest}`}>Back to the manifest</a>
      </p>
      <form class="bar" method="get" action={`/ui/r/${d.repo}/m/${d.digest}/diff`}>
        <label>
          Compare with (tag or digest)
          <input name="with" value={d.with} list="tags" required />
        </label>
        <datalist id="tags">
          {d.tags.slice(0, 200).map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <button type="submit">Compare</button>
      </form>
      {r === null ? (
        <p>Give the tag or digest of another image in this repository.</p>
      ) : (
        <>
          <p class="mono">{`${r.a.image} → ${r.b.image}`}</p>
          <p>
            {`${r.summary.added} added, ${r.summary.removed} removed, ${r.summary.changed} changed; ` +
              `${r.summary.configChanges} config changes; ${r.summary.sharedLayers} layers shared, ` +
              `${r.layers.onlyA.length} only in the first, ${r.layers.onlyB.length} only in the second.`}
          </p>
          <h2>Config</h2>
          {r.config.length === 0 ? (
            <p>The configs run the same way.</p>
          ) : (
            <table>
              <caption class="skip">Config changes</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
              <tbody>
                {r.config.map((c) => (
                  <tr key={c.field}>
                    <td class="mono">{c.field}</td>
                    <td class="mono">{json(c.before)}</td>
                    <td class="mono">{json(c.after)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Files</h2>
          <nav class="pager" aria-label="Show">
            {(['', 'A', 'D', 'C'] as const).map((k) =>
              k === d.kind ? (
                <b key={k}>{k ? KIND_WORDS[k] : 'all'}</b>
              ) : (
                <a key={k} href={diffUrl(d, { kind: k, page: 0 })}>
                  {k ? KIND_WORDS[k] : 'all'}
                </a>
              ),
            )}
          </nav>
          {d.files.length === 0 ? (
            <p>No file differs.</p>
          ) : (
            <table>
              <caption class="skip">File changes</caption>
              <thead>
                <tr>
                  <th scope="col">Change</th>
                  <th scope="col">Path</th>
                  <th scope="col">What</th>
                </tr>
              </thead>
              <tbody>
                {d.files.map((f) => (
                  <tr key={f.path}>
                    <td class={f.kind === 'D' ? 'warn' : undefined}>{KIND_WORDS[f.kind]}</td>
                    <td class="mono">{f.path}</td>
                    <td>{fileText(f)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <nav class="pager" aria-label="Pages">
            {d.page > 0 ? <a href={diffUrl(d, { page: d.page - 1 })}>Previous page</a> : null}
            {pages > 1 ? <span>{`Page ${d.page + 1} of ${pages}`}</span> : null}
            {d.page + 1 < pages ? <a href={diffUrl(d, { page: d.page + 1 })}>Next page</a> : null}
          </nav>
        </>
      )}
    </Page>
  );
}
