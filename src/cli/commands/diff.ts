import type { Command } from 'commander';
import type { FileChange } from '../../analysis/diff.js';
import { analysedImage, analysisOptions, indexCache, warnLine, type AnalysisOptions } from '../analysis-options.js';

const show = (v: unknown) => (v === null || v === undefined ? '(unset)' : JSON.stringify(v));

function detail(f: FileChange): string {
  if (f.kind !== 'C') return '';
  const b = f.before!;
  const a = f.after!;
  const parts = f.fields!.map((k) => {
    if (k === 'type') return `type ${b.type} → ${a.type}`;
    if (k === 'size') return `size ${b.size} → ${a.size}`;
    if (k === 'mode') return `mode ${b.mode.toString(8).padStart(4, '0')} → ${a.mode.toString(8).padStart(4, '0')}`;
    if (k === 'owner') return `owner ${b.uid}:${b.gid} → ${a.uid}:${a.gid}`;
    if (k === 'link') return `link ${b.link ?? '-'} → ${a.link ?? '-'}`;
    return `content ${b.digest?.slice(7, 19) ?? '-'} → ${a.digest?.slice(7, 19) ?? '-'}`;
  });
  return `  (${parts.join(', ')})`;
}

/** `kura diff A B`: what changed between two images, from any two locations. */
export function registerDiff(program: Command): void {
  analysisOptions(
    program
      .command('diff <a> <b>')
      .description(
        'compare two images (any locations): files added (A), deleted (D) and changed (C) by size, mode, owner and ' +
          'content digest; config; shared layers',
      ),
  ).action(async (la: string, lb: string, opts: AnalysisOptions) => {
    const a = await analysedImage(la, opts);
    const b = await analysedImage(lb, opts);
    const cache = await indexCache(opts);
    const { diffImages } = await import('../../analysis/diff.js');
    const rep = await diffImages(a, b, { ...(cache ? { cache } : {}), onWarning: warnLine });
    if (opts.json) {
      process.stdout.write(JSON.stringify(rep, null, 2) + '\n');
      return;
    }
    const out: string[] = [];
    const s = rep.summary;
    out.push(`Files: ${s.added} added, ${s.removed} deleted, ${s.changed} changed`);
    for (const f of rep.files) out.push(`${f.kind} ${f.path}${detail(f)}`);
    out.push('', `Config: ${rep.config.length ? `${rep.config.length} changes` : 'the same'}`);
    for (const c of rep.config) out.push(`  ${c.field}: ${show(c.before)} → ${show(c.after)}`);
    out.push(
      '',
      `Layers: ${rep.layers.shared.length} shared, ${rep.layers.onlyA.length} only in ${la}, ` +
        `${rep.layers.onlyB.length} only in ${lb}`,
    );
    for (const d of rep.layers.onlyA) out.push(`  - ${d}`);
    for (const d of rep.layers.onlyB) out.push(`  + ${d}`);
    process.stdout.write(out.join('\n') + '\n');
  });
}
