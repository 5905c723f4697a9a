import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import type { CiRules } from '../../analysis/dive-ci.js';
import type { LayersReport } from '../../analysis/layers.js';
import { humanSize } from '../../analysis/units.js';
import { analysedImage, analysisOptions, indexCache, warnLine, type AnalysisOptions } from '../analysis-options.js';
import { tabwrite } from '../format/tabwriter.js';
import { UsageError } from '../errors.js';

interface LayersOptions extends AnalysisOptions {
  files?: string | boolean;
  ci?: boolean;
  ciConfig?: string;
  trunc: boolean;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

function table(rep: LayersReport, trunc: boolean): string {
  const short = (s: string) => {
    const one = s.replace(/\s+/g, ' ').trim();
    return trunc && one.length > 60 ? `${one.slice(0, 59)}…` : one;
  };
  const lines = ['STEP\tLAYER\tCOMPRESSED\tUNCOMPRESSED\tFILES SIZE\tADDED\tMODIFIED\tREMOVED\tCREATED BY'];
  for (const r of rep.rows) {
    const n = (v: number) => (r.emptyLayer ? '-' : String(v));
    lines.push(
      [
        r.step,
        r.emptyLayer ? '<empty>' : r.layer,
        humanSize(r.compressedSize),
        humanSize(r.uncompressedSize),
        humanSize(r.size),
        n(r.added),
        n(r.modified),
        n(r.removed),
        short(r.createdBy),
      ].join('\t'),
    );
  }
  return tabwrite(lines.join('\n') + '\n', 0, 2);
}

function summary(rep: LayersReport): string {
  return [
    `Total image size: ${humanSize(rep.totalSize)} (${rep.totalSize} bytes of files)`,
    `Image efficiency: ${pct(rep.efficiency)}`,
    `Wasted bytes: ${humanSize(rep.wastedBytes)} (${rep.wastedBytes} bytes; dive counts ${rep.diveWastedBytes}, ` +
      `kept copies included)`,
    `User wasted percent: ${pct(rep.userWastedPercent)}`,
    '',
  ].join('\n');
}

function filesTable(rep: LayersReport, n: number): string {
  if (!rep.files.length) return 'No path is in two layers: nothing wasted.\n';
  const lines = ['COUNT\tWASTED\tLAYERS\tPATH'];
  for (const f of rep.files.slice(0, n))
    lines.push(`${f.count}\t${humanSize(f.wasted)}\t${f.layers.join(',')}\t/${f.path}${f.removed ? ' (removed)' : ''}`);
  return tabwrite(lines.join('\n') + '\n', 0, 2);
}

/** The rules of --ci-config FILE, of `.dive-ci` when present, else dive's defaults. */
async function ciRules(file: string | undefined): Promise<CiRules> {
  const { CI_DEFAULTS, parseCiRules } = await import('../../analysis/dive-ci.js');
  const path = file ?? '.dive-ci';
  if (!existsSync(path)) {
    if (file)
      throw new Error(
        `--ci-config ${file}: no such file; write one (rules: lowestEfficiency, highestWastedBytes, ` +
          `highestUserWastedPercent) or drop the flag`,
      );
    return { ...CI_DEFAULTS };
  }
  return parseCiRules(readFileSync(path, 'utf8'), path);
}

/** `kura layers IMAGE`: the build steps with their sizes and changes, then dive's efficiency and waste. */
export function registerLayers(program: Command): void {
  analysisOptions(
    program
      .command('layers <image>')
      .description(
        "show an image's layers (one row per build step) with sizes and files added/modified/removed, then its " +
          'efficiency and wasted bytes as dive computes them',
      )
      .option('--files [n]', 'list the N paths that waste the most bytes (default 20)')
      .option('--ci', "check dive's CI rules and exit 1 on failure (also when CI=true)")
      .option('--ci-config <file>', "dive's rules file (default .dive-ci; dive's defaults when absent)")
      .option('--no-trunc', 'do not shorten the build commands'),
  ).action(async (location: string, opts: LayersOptions) => {
    const ci = opts.ci === true || process.env.CI === 'true' || opts.ciConfig !== undefined;
    const rules = ci ? await ciRules(opts.ciConfig) : undefined;
    const r = await analysedImage(location, opts);
    const cache = await indexCache(opts);
    const { layersReport } = await import('../../analysis/layers.js');
    const rep = await layersReport(r, { ...(cache ? { cache } : {}), onWarning: warnLine });
    const nFiles = opts.files === undefined || opts.files === false ? 0 : opts.files === true ? 20 : Number(opts.files);
    if (!Number.isInteger(nFiles) || nFiles < 0)
      throw new UsageError(`--files takes a count of paths, not "${String(opts.files)}"`);
    // dive-ci (and its YAML parser) only with --ci: it is most of a cached run's module loading.
    const results = rules ? (await import('../../analysis/dive-ci.js')).evaluateCiRules(rules, rep) : undefined;
    const failed = results?.some((x) => x.status === 'FAIL') ?? false;
    if (opts.json) {
      const { files, ...rest } = rep;
      const doc = {
        ...rest,
        files: nFiles ? files.slice(0, nFiles) : files,
        ...(results ? { ci: { pass: !failed, rules: results } } : {}),
      };
      process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    } else {
      let out = table(rep, opts.trunc) + '\n' + summary(rep);
      if (nFiles) out += '\n' + filesTable(rep, nFiles);
      if (results) {
        out += '\nResults:\n';
        for (const x of results) out += `  ${x.status}: ${x.rule}${x.message ? `: ${x.message}` : ''}\n`;
        const count = (s: string) => results.filter((x) => x.status === s).length;
        out +=
          `Result:${failed ? 'FAIL' : 'PASS'} [Total:${results.length}] [Passed:${count('PASS')}] ` +
          `[Failed:${count('FAIL')}] [Warn:0] [Skipped:${count('SKIP')}]\n`;
      }
      process.stdout.write(out);
    }
    if (failed) process.exitCode = 1;
  });
}
