import type { Command } from 'commander';
import { familiar } from '../../oci/familiar.js';
import type { DeleteItem, PruneOptions, PrunePlan } from '../../transports/local-store/index.js';
import { imageId } from '../../transports/local-store/record.js';
import { IMAGE_HEADERS, imageRows, rowFields } from './images.js';
import { humanSize, renderFormat } from '../format/store-format.js';
import {
  confirm,
  group,
  labelFilter,
  openStore,
  parseFilters,
  parseSize,
  parseUntil,
  withStore,
  type StoreOptions,
} from '../store.js';
import { collect, jsonFlag } from '../options.js';

interface PruneFlags extends StoreOptions {
  all?: boolean;
  force?: boolean;
  filter: string[];
  keepStorage?: string;
  dryRun?: boolean;
  json?: boolean;
}

const itemLine = (i: DeleteItem) => ('untagged' in i ? `untagged: ${i.untagged}` : `deleted: ${i.deleted}`);

/** `kura image prune`: docker's, planned first (`--dry-run` shows the plan), then applied under the store's lock. */
export function registerImagePrune(program: Command): void {
  withStore(group(program, 'image', 'manage images of the local image store').command('prune'))
    .description(
      'remove dangling images (with -a: every image) and the blobs no other image uses; sizes are bytes on disk',
    )
    .option('-a, --all', 'remove every image, not only dangling ones (there are no containers to keep them)')
    .option('-f, --force', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option(
      '--filter <filter>',
      'until=24h|TIMESTAMP (created before), label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)',
      collect,
      [],
    )
    .option(
      '--keep-storage <size>',
      'stop once the store holds at most SIZE (e.g. 2GB, 500MiB); least recently pulled or tagged go first',
    )
    .option('--dry-run', 'show what would be removed, remove nothing')
    .addOption(jsonFlag('the plan (and what was deleted) as JSON'))
    .action(async (o: PruneFlags) => {
      const opts: PruneOptions = { all: o.all, labels: [] };
      for (const f of parseFilters(o.filter, ['until', 'label', 'label!'])) {
        if (f.key === 'until') opts.until = parseUntil(f.value);
        else opts.labels!.push(labelFilter(f.key, f.value));
      }
      if (o.keepStorage !== undefined) opts.keepStorage = parseSize(o.keepStorage);
      const store = await openStore(o);
      if (o.dryRun) {
        const plan = await store.planPrune(opts);
        if (o.json) process.stdout.write(JSON.stringify(summary(plan), null, 2) + '\n');
        else {
          for (const r of plan.images)
            process.stdout.write(
              `would delete: ${imageId(r)}${r.names.length ? ` (${r.names.map(familiar).join(', ')})` : ''}\n`,
            );
          process.stdout.write(`Total reclaimable space: ${humanSize(plan.reclaimed, 4)}\n`);
        }
        return;
      }
      if (!o.force) {
        const warning = o.all
          ? 'WARNING! This will remove all images.'
          : 'WARNING! This will remove all dangling images.';
        if (!(await confirm(warning, 'kura image prune'))) return;
      }
      const done = await store.prune(opts);
      if (o.json) {
        process.stdout.write(JSON.stringify({ ...summary(done), items: done.items }, null, 2) + '\n');
        return;
      }
      if (done.items.length) process.stdout.write(`Deleted Images:\n${done.items.map(itemLine).join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(done.reclaimed, 4)}\n`);
    });
}

function summary(p: PrunePlan) {
  return {
    images: p.images.map((r) => ({ id: imageId(r), digest: r.digest, names: r.names, repoDigests: r.repoDigests })),
    blobs: p.blobs,
    reclaimed: p.reclaimed,
  };
}

const DF_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

/** `kura system df`: docker's Images row (Kura has no containers, volumes or build cache). */
export function registerSystemDf(program: Command): void {
  withStore(group(program, 'system', 'the local image store as a whole').command('df'))
    .description(
      'disk usage of the local image store: sizes are bytes on disk (compressed layers as pulled, configs, ' +
        'manifests), a blob shared by images counted once; ACTIVE is 0 (docker counts images containers use, and ' +
        'nothing runs containers here), RECLAIMABLE is what kura image prune -a frees',
    )
    .option('-v, --verbose', 'per image: SIZE, SHARED SIZE (blobs other images use too) and UNIQUE SIZE')
    .option(
      '--format <template>',
      'docker template over {{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}} (with -v: the image ' +
        'fields, {{.SharedSize}}, {{.UniqueSize}})',
    )
    .addOption(jsonFlag('the numbers as JSON'))
    .action(async (o: StoreOptions & { verbose?: boolean; format?: string; json?: boolean }) => {
      const df = await (await openStore(o)).df();
      if (o.json) {
        const images = df.images.map((u) => ({
          id: imageId(u.image),
          digest: u.image.digest,
          names: u.image.names,
          repoDigests: u.image.repoDigests,
          created: u.image.created,
          size: u.size,
          sharedSize: u.sharedSize,
          uniqueSize: u.uniqueSize,
        }));
        process.stdout.write(
          JSON.stringify(
            {
              type: 'Images',
              total: df.total,
              active: df.active,
              size: df.size,
              reclaimable: df.reclaimable,
              ...(o.verbose ? { images } : {}),
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      if (!o.verbose) {
        const pct = df.size > 0 ? ` (${Math.floor((df.reclaimable * 100) / df.size)}%)` : '';
        const row = {
          Type: 'Images',
          TotalCount: String(df.total),
          Active: String(df.active),
          Size: humanSize(df.size, 4),
          Reclaimable: `${humanSize(df.reclaimable, 4)}${pct}`,
        };
        process.stdout.write(
          await renderFormat(
            o.format ?? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
            [row],
            DF_HEADERS,
          ),
        );
        return;
      }
      const now = Date.now();
      const rows = df.images.map((u) => {
        // docker -v: the first tag only, <none> for an image without one.
        const first = imageRows({ ...u.image, names: u.image.names.slice(0, 1), repoDigests: [] }, false)[0]!;
        return {
          ...rowFields(first, false, now),
          SharedSize: humanSize(u.sharedSize, 4),
          UniqueSize: humanSize(u.uniqueSize, 4),
          Containers: '0',
        };
      });
      const format =
        o.format ??
        'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t' +
          '{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
      if (!o.format) process.stdout.write('Images space usage:\n\n');
      process.stdout.write(await renderFormat(format, rows, IMAGE_HEADERS));
    });
}
