/** Docker's output conventions for the image store commands: sizes, ages, tables, `--format`. */

import { humanDuration, humanSize } from '../../analysis/units.js';
import { renderTable } from './template.js';

export { humanDuration, humanSize };

/** "2 weeks ago", or "N/A" for an image without a creation time. */
export function createdSince(iso: string | null, now = Date.now()): string {
  return iso ? `${humanDuration(now - Date.parse(iso))} ago` : 'N/A';
}

/** Go's time.String() in UTC: `2024-03-01 10:00:00 +0000 UTC`. */
export function createdAt(iso: string | null): string {
  return iso ? `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC` : '';
}

/**
 * Docker's `--format` for the fields of these commands: `{{.Field}}` placeholders, a `table`
 * prefix (header line, aligned columns), `\t`, and `json` (one object per row). The general
 * Go-template engine (cli/template.ts) replaces this function when it lands.
 */
export function renderFormat(format: string, rows: Record<string, string>[], headers: Record<string, string>): string {
  if (format.trim() === 'json') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  return renderTable(format, rows, headers);
}
