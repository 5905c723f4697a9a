import type { Command } from 'commander';
import { HISTORY_HEADERS, historyRows, imageHistory } from '../../analysis/inspect.js';
import { resolveImage } from '../../analysis/resolve.js';
import { openImage, remoteOptions, storedLayerSizes, type ImageOptions } from '../image-options.js';
import { renderTable } from '../format/template.js';
import { UsageError } from '../errors.js';

const DEFAULT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const DEFAULT_RAW = 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/** Parses docker's `--human=false` / `-H false` value. */
function bool(v: string): boolean {
  if (/^(true|1|t|yes)$/i.test(v)) return true;
  if (/^(false|0|f|no)$/i.test(v)) return false;
  throw new UsageError(`--human takes true or false, not "${v}"`);
}

/** `kura history LOCATION`: the steps that built an image, newest first, as `docker history` shows them. */
export function registerHistory(program: Command): void {
  remoteOptions(
    program
      .command('history <location>')
      .description('show the history of an image (one row per build step, newest first) like `docker history`')
      .option('--no-trunc', 'do not shorten IDs and commands')
      .option('-H, --human [bool]', 'human sizes and ages (--human=false: bytes and RFC 3339 times)', bool, true)
      .option(
        '--format <template>',
        'Go template per row (fields: ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment), "table …" or "json"',
      )
      .option('-q, --quiet', 'only the image IDs')
      .option('--platform <os/arch[/variant]>', 'the image of an index (default: this machine)'),
  ).action(
    async (
      location: string,
      opts: ImageOptions & { trunc: boolean; human: boolean; format?: string; quiet?: boolean },
    ) => {
      const { loc, root, platform } = await openImage(location, opts);
      const items = imageHistory(await resolveImage(root, platform), await storedLayerSizes(loc));
      if (opts.json) {
        const raw = items.map((h) => ({
          ID: h.id ?? '<missing>',
          Created: h.created ?? null,
          CreatedBy: h.createdBy,
          Size: h.size,
          Comment: h.comment,
          EmptyLayer: h.emptyLayer,
          Layer: h.layer?.digest ?? null,
        }));
        process.stdout.write(JSON.stringify(raw, null, 2) + '\n');
        return;
      }
      const rows = historyRows(items, { human: opts.human, trunc: opts.trunc });
      if (opts.quiet) {
        process.stdout.write(rows.map((r) => `${r.ID}\n`).join(''));
        return;
      }
      const format = opts.format === 'json' ? '{{json .}}' : opts.format || (opts.human ? DEFAULT : DEFAULT_RAW);
      process.stdout.write(renderTable(format, rows, HISTORY_HEADERS));
    },
  );
}
