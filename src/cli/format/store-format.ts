/** Docker's output conventions for the image store commands: sizes, ages, tables, `--format`. */

import { humanDuration, humanSize } from '../../analysis/units.js';

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
 * Go-template engine (cli/template.ts) replaces this function when it lands. The engine loads when a
 * table is rendered, not with the command (`kura images --help` does not need it).
 */
export async function renderFormat(
  format: string,
  rows: Record<string, string>[],
  headers: Record<string, string>,
): Promise<string> {
  if (format.trim() === 'json') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  return (await import('./template.js')).renderTable(format, rows, headers);
}
