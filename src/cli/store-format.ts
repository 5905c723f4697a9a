/** Docker's output conventions for the image store commands: sizes, ages, tables, `--format`. */

import { humanDuration, humanSize } from '../analysis/inspect.js';

export { humanDuration, humanSize };

/** "2 weeks ago", or "N/A" for an image without a creation time. */
export function createdSince(iso: string | null, now = Date.now()): string {
  return iso ? `${humanDuration(now - Date.parse(iso))} ago` : 'N/A';
}

/** Go's time.String() in UTC: `2024-03-01 10:00:00 +0000 UTC`. */
export function createdAt(iso: string | null): string {
  return iso ? `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC` : '';
}

/** Go's tabwriter as docker sets it up (min width 10, padding 3): every column but the last padded. */
export function alignTable(lines: string[]): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) r.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 10, c.length + 3)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('')).join('\n') + (rows.length ? '\n' : '');
}

/**
 * Docker's `--format` for the fields of these commands: `{{.Field}}` placeholders, a `table`
 * prefix (header line, aligned columns), `\t`, and `json` (one object per row). The general
 * Go-template engine (cli/template.ts) replaces this function when it lands.
 */
export function renderFormat(format: string, rows: Record<string, string>[], headers: Record<string, string>): string {
  if (format.trim() === 'json') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  const table = /^table(\s|$)/.test(format);
  const body = (table ? format.slice(5).trimStart() : format).replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const fill = (data: Record<string, string>) =>
    body.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, k: string) => {
      if (!(k in headers)) throw new Error(`--format: no field .${k}; use ${Object.keys(headers).map((h) => `{{.${h}}}`).join(', ')}`);
      return data[k] ?? '';
    });
  const lines = rows.map(fill);
  return table ? alignTable([fill(headers), ...lines]) : lines.map((l) => l + '\n').join('');
}
