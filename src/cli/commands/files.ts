import type { Command } from 'commander';
/** analysis/files, imported by the actions (it reads tar): `kura ls --help` does without it. */
type Files = typeof import('../../analysis/files.js');
import type { FlatEntry, FsTree } from '../../analysis/fs-tree.js';
import { analysedImage, analysisOptions, indexCache, warnLine, type AnalysisOptions } from '../analysis-options.js';
import { UsageError } from '../errors.js';
import { tabwrite } from '../format/tabwriter.js';

interface LsOptions extends AnalysisOptions {
  recursive?: boolean;
  layer?: string;
  sort?: string;
}

const time = (s: number) => new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ');

function row({ modeString, shown }: Files, e: FlatEntry): string {
  const link = e.type === 'symlink' ? ` -> ${e.link}` : e.hardlink ? ` link to ${shown(e.hardlink)}` : '';
  return [modeString(e), `${e.uid}/${e.gid}`, e.size, time(e.mtime), e.layer, `${shown(e.path)}${link}`].join('\t');
}

const json = ({ modeString, shown }: Files, e: FlatEntry) => ({
  path: shown(e.path),
  type: e.type,
  mode: e.mode,
  modeString: modeString(e),
  uid: e.uid,
  gid: e.gid,
  size: e.size,
  mtime: new Date(e.mtime * 1000).toISOString(),
  layer: e.layer,
  ...(e.link !== undefined && e.type === 'symlink' ? { link: e.link } : {}),
  ...(e.hardlink ? { hardlink: shown(e.hardlink) } : {}),
  ...(e.digest ? { digest: e.digest } : {}),
  ...(e.implied ? { implied: true } : {}),
});

/** `kura ls`, `kura cat`, `kura cp`: the files of an image, without a daemon or unpacking. */
export function registerFiles(program: Command): void {
  analysisOptions(
    program
      .command('ls <image> [paths...]')
      .description(
        "list an image's files (layers applied) like ls -l: mode, owner, size, mtime, the layer that last wrote " +
          'each path, link targets',
      )
      .option('-R, --recursive', 'list directories recursively (like find)')
      .option(
        '--layer <n>',
        'list what layer N (0 = bottom) itself holds, whiteouts included, instead of the stacked filesystem',
      )
      .option('--sort <key>', 'name (default) or size (largest first)', 'name'),
  ).action(async (location: string, paths: string[], opts: LsOptions) => {
    if (opts.sort !== 'name' && opts.sort !== 'size')
      throw new UsageError(`--sort takes name or size, not "${opts.sort}"`);
    const r = await analysedImage(location, opts);
    const f = await import('../../analysis/files.js');
    const { imageTree, listTree, shown } = f;
    const cache = await indexCache(opts);
    const idx = { ...(cache ? { cache } : {}), onWarning: warnLine };
    let tree: FsTree;
    let removed: string[] = [];
    if (opts.layer !== undefined) {
      const n = Number(opts.layer);
      if (!Number.isInteger(n) || n < 0 || n >= r.layers.length)
        throw new UsageError(`--layer takes a layer number from 0 to ${r.layers.length - 1}, not "${opts.layer}"`);
      const [{ indexImage }, { FsTree }] = await Promise.all([
        import('../../analysis/image-index.js'),
        import('../../analysis/fs-tree.js'),
      ]);
      const { layers } = await indexImage(r, idx);
      tree = new FsTree();
      tree.apply({ ...layers[n]!, whiteouts: [], opaques: [] }, n, warnLine);
      removed = [
        ...layers[n]!.whiteouts.map((w) => `${shown(w)} (whiteout)`),
        ...layers[n]!.opaques.map((o) => `${shown(o)}/* (opaque: lower contents hidden)`),
      ];
    } else tree = (await imageTree(r, idx)).tree;
    const list = listTree(tree, { paths, recursive: !!opts.recursive, sort: opts.sort });
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(
          opts.layer !== undefined
            ? { entries: list.map((e) => json(f, e)), removes: removed }
            : list.map((e) => json(f, e)),
          null,
          2,
        ) + '\n',
      );
      return;
    }
    const lines = [
      'MODE\tOWNER\tSIZE\tMODIFIED\tLAYER\tPATH',
      ...list.map((e) => row(f, e)),
      ...removed.map((w) => `-\t-\t-\t-\t${opts.layer}\t${w}`),
    ];
    process.stdout.write(tabwrite(lines.join('\n') + '\n', 0, 2));
  });

  analysisOptions(
    program
      .command('cat <image> <path>')
      .description(
        'write one file of an image to stdout (symlinks followed inside the image), reading layers from the top ' +
          'down only as far as the file',
      ),
  ).action(async (location: string, path: string, opts: AnalysisOptions) => {
    const r = await analysedImage(location, opts);
    const cache = await indexCache(opts);
    const { catFile } = await import('../../analysis/files.js');
    await catFile(r, path, process.stdout, { ...(cache ? { cache } : {}), onWarning: warnLine });
  });

  analysisOptions(
    program
      .command('cp <image:path> <dest>')
      .description(
        'copy a file or directory out of an image (like docker cp): into DEST if it is a directory, else as DEST; ' +
          'nothing is written outside it',
      )
      .option('-L, --follow-link', 'if PATH is a symlink, copy what it points to'),
  ).action(async (source: string, dest: string, opts: AnalysisOptions & { followLink?: boolean }) => {
    const at = source.lastIndexOf(':/');
    if (at <= 0 || /^[a-z-]+$/.test(source.slice(0, at)))
      throw new UsageError(
        `"${source}" is not IMAGE:PATH; give an absolute path in the image, like alpine:/etc/os-release`,
      );
    const r = await analysedImage(source.slice(0, at), opts);
    const cache = await indexCache(opts);
    const { imageTree } = await import('../../analysis/files.js');
    const { tree } = await imageTree(r, { ...(cache ? { cache } : {}), onWarning: warnLine });
    const { extractPath } = await import('../../analysis/extract.js');
    const res = await extractPath(r, tree, source.slice(at + 1), dest, {
      followLink: !!opts.followLink,
      onWarning: warnLine,
    });
    if (opts.json) process.stdout.write(JSON.stringify(res) + '\n');
    else
      process.stderr.write(
        `kura cp: ${res.files} files, ${res.dirs} directories, ${res.symlinks} symlinks (${res.bytes} bytes) ` +
          `written to ${res.target}\n`,
      );
  });
}
