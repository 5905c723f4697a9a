import type { Command } from 'commander';
import { familiar } from '../../oci/familiar.js';
import type { ImageRecord } from '../../transports/local-store/index.js';
import { imageId, shortId, unpackedSize } from '../../transports/local-store/record.js';
import { createdAt, createdSince, humanSize, renderFormat } from '../format/store-format.js';
import { group, labelFilter, openStore, parseFilters, withStore, type StoreOptions } from '../store.js';
import { collect, jsonFlag } from '../options.js';

/** The fields `--format` knows for images, with docker's column titles. */
export const IMAGE_HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  VirtualSize: 'SIZE',
  CompressedSize: 'COMPRESSED SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  Containers: 'CONTAINERS',
};

/** One line of `kura images`: docker shows an image once per repository:tag. */
export interface ImageRow {
  image: ImageRecord;
  repository: string;
  tag: string;
  digest: string;
}

const repoAndRest = (familiarName: string): [string, string] => {
  const at = familiarName.indexOf('@');
  if (at >= 0) return [familiarName.slice(0, at), familiarName.slice(at + 1)];
  const colon = familiarName.lastIndexOf(':');
  return [familiarName.slice(0, colon), familiarName.slice(colon + 1)];
};

/** Docker's rows for an image: a row per tag (per digest of the repo with --digests), then digest-only repos. */
export function imageRows(
  image: ImageRecord,
  digests: boolean,
  keep: (name: string) => boolean = () => true,
): ImageRow[] {
  const names = image.names.filter(keep);
  const refs = image.repoDigests.filter(keep);
  if (!image.names.length && !image.repoDigests.length)
    return [{ image, repository: '<none>', tag: '<none>', digest: '<none>' }];
  const tags = new Map<string, string[]>();
  const dig = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, n: string) => {
    const [repo, rest] = repoAndRest(familiar(n));
    m.set(repo, [...(m.get(repo) ?? []), rest]);
  };
  names.forEach((n) => add(tags, n));
  refs.forEach((n) => add(dig, n));
  const rows: ImageRow[] = [];
  for (const [repository, ts] of [...tags].sort()) {
    const ds = digests ? (dig.get(repository) ?? []) : [];
    dig.delete(repository);
    for (const tag of ts)
      for (const digest of ds.length ? ds : ['<none>']) rows.push({ image, repository, tag, digest });
  }
  for (const [repository, ds] of [...dig].sort())
    for (const digest of digests ? ds : ['']) rows.push({ image, repository, tag: '<none>', digest });
  return rows;
}

/** docker's `path.Match` globs (`*`, `?`, `[…]`), as the reference filter uses them. */
export function globMatcher(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const close = c === '[' ? pattern.indexOf(']', i + 1) : -1;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (close > i) {
      re += `[${pattern.slice(i + 1, close).replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The layers as stored (compressed as pulled, plain after load). */
function compressedLayers(image: ImageRecord): number {
  const layers = image.layerSizes;
  return layers ? image.blobs.filter((b) => b.digest in layers).reduce((n, b) => n + b.size, 0) : image.size;
}

/** The template fields of a row (docker's names), formatted as docker formats them. */
export function rowFields(r: ImageRow, noTrunc: boolean, now = Date.now()): Record<string, string> {
  const id = imageId(r.image);
  return {
    Repository: r.repository,
    Tag: r.tag,
    Digest: r.digest,
    ID: noTrunc ? id : shortId(id),
    CreatedSince: createdSince(r.image.created, now),
    CreatedAt: createdAt(r.image.created),
    // docker's SIZE: the layers unpacked (the same after pull and after load); bytes on disk for an old record.
    Size: humanSize(unpackedSize(r.image) ?? r.image.size),
    VirtualSize: humanSize(unpackedSize(r.image) ?? r.image.size, 4),
    CompressedSize: humanSize(compressedLayers(r.image)),
    SharedSize: 'N/A',
    UniqueSize: 'N/A',
    Containers: 'N/A',
  };
}

interface ImagesOptions extends StoreOptions {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  filter: string[];
  format?: string;
  json?: boolean;
}

function imagesCommand(cmd: Command): Command {
  return withStore(cmd)
    .description(
      'list the images of the local image store (SIZE: the layers unpacked, as docker shows it; ' +
        '{{.CompressedSize}}: the layers as stored)',
    )
    .option('-a, --all', 'show all images (there are no intermediate images; accepted for docker compatibility)')
    .option('-q, --quiet', 'only image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', 'full image IDs')
    .option(
      '-f, --filter <filter>',
      'dangling=true|false, label=KEY[=VALUE], reference=GLOB, before=IMAGE, since=IMAGE (created before or after ' +
        'that image; repeatable)',
      collect,
      [],
    )
    .option(
      '--format <template>',
      'docker template: {{.Repository}} {{.Tag}} {{.ID}} {{.Digest}} {{.CreatedSince}} {{.CreatedAt}} {{.Size}} ' +
        '{{.CompressedSize}}, "table …", or json',
    )
    .addOption(jsonFlag('the image records as JSON'))
    .action(async (reference: string | undefined, o: ImagesOptions) => {
      const filters = parseFilters(o.filter, ['dangling', 'label', 'reference', 'before', 'since']);
      if (reference) filters.push({ key: 'reference', value: reference });
      const patterns = filters.filter((f) => f.key === 'reference').map((f) => globMatcher(f.value));
      const keep = (n: string) =>
        !patterns.length || patterns.some((p) => p.test(familiar(n)) || p.test(repoAndRest(familiar(n))[0]));
      const store = await openStore(o);
      let images = await store.list();
      for (const f of filters) {
        if (f.key === 'before' || f.key === 'since') {
          // docker: images created before (or since) the one named, by their config's creation time.
          const at = (await store.find(f.value))?.created;
          if (at === undefined)
            throw new Error(`invalid filter "${f.key}=${f.value}": no such image in the image store ${store.dir}`);
          if (at === null)
            throw new Error(`invalid filter "${f.key}=${f.value}": that image has no creation time to compare with`);
          const t = Date.parse(at);
          images = images.filter(
            (r) => r.created !== null && (f.key === 'before' ? Date.parse(r.created) < t : Date.parse(r.created) > t),
          );
        }
        if (f.key === 'dangling') {
          if (!/^(true|false|1|0)$/.test(f.value))
            throw new Error(`invalid filter "dangling=${f.value}": use dangling=true or dangling=false`);
          images = images.filter((r) => (r.names.length === 0) === /^(true|1)$/.test(f.value));
        } else if (f.key === 'label') {
          const l = labelFilter('label', f.value);
          images = images.filter((r) => (l.value === undefined ? l.key in r.labels : r.labels[l.key] === l.value));
        }
      }
      if (patterns.length) images = images.filter((r) => [...r.names, ...r.repoDigests].some(keep));
      if (o.json) {
        process.stdout.write(
          JSON.stringify(
            images.map(({ blobs: _b, ...r }) => ({ id: imageId(r), ...r })),
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const format = o.quiet
        ? '{{.ID}}'
        : (o.format ??
          `table {{.Repository}}\t{{.Tag}}${o.digests ? '\t{{.Digest}}' : ''}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`);
      const digests = !!o.digests || format.includes('.Digest');
      const now = Date.now();
      const rows = images.flatMap((r) => imageRows(r, digests, keep)).map((r) => rowFields(r, o.trunc === false, now));
      process.stdout.write(await renderFormat(format, rows, IMAGE_HEADERS));
    });
}

/** `kura images` and `kura image ls`. */
export function registerImages(program: Command): void {
  imagesCommand(program.command('images [reference]'));
  imagesCommand(
    group(program, 'image', 'manage images of the local image store').command('ls [reference]').alias('list'),
  );
}

/** `kura tag SOURCE TARGET`. */
export function registerTag(program: Command): void {
  withStore(program.command('tag <source> <target>'))
    .description(
      'give an image of the local image store (by name, ID or digest) another name; the name is taken from any ' +
        'image that had it',
    )
    .addOption(jsonFlag('the image as JSON'))
    .action(async (source: string, target: string, o: StoreOptions & { json?: boolean }) => {
      const rec = await (await openStore(o)).tag(source, target);
      if (o.json)
        process.stdout.write(JSON.stringify({ id: imageId(rec), digest: rec.digest, names: rec.names }) + '\n');
    });
}

function rmiCommand(cmd: Command): Command {
  return withStore(cmd)
    .description(
      'remove names of images from the local image store; an image (and every blob no other image uses) goes with ' +
        'its last name',
    )
    .option('-f, --force', 'remove an image by ID even when names in several repositories hold it')
    .addOption(jsonFlag('what was untagged and deleted, as JSON'))
    .action(async (terms: string[], o: StoreOptions & { force?: boolean; json?: boolean }) => {
      const r = await (await openStore(o)).remove(terms, { force: o.force });
      if (o.json) process.stdout.write(JSON.stringify({ ...r }, null, 2) + '\n');
      else
        for (const i of r.items)
          process.stdout.write('untagged' in i ? `Untagged: ${i.untagged}\n` : `Deleted: ${i.deleted}\n`);
      if (r.errors.length) throw new Error(r.errors.join('; '));
    });
}

/** `kura rmi` and `kura image rm`. */
export function registerRmi(program: Command): void {
  rmiCommand(program.command('rmi <image...>'));
  rmiCommand(
    group(program, 'image', 'manage images of the local image store').command('rm <image...>').alias('remove'),
  );
}
