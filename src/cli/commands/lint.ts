import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import type { IgnoreEntry } from '../../analysis/lint-output.js';
import { LINT_RULES, RULES_BY_ID, SEVERITIES, type Finding } from '../../analysis/lint-rules.js';
import { analysisOptions, indexCache, warnLine, type AnalysisOptions } from '../analysis-options.js';
import { openImage } from '../image-options.js';
import { parseSize } from '../store.js';
import { tabwrite } from '../format/tabwriter.js';
import { UsageError } from '../errors.js';

interface LintCliOptions extends AnalysisOptions {
  format: string;
  exitCode: string;
  severity?: string;
  ignorefile?: string;
  maxSize?: string;
  output?: string;
  listRules?: boolean;
}

function table(findings: Finding[], ignored: number): string {
  const lines = [
    'SEVERITY\tRULE\tNAME\tFINDING',
    ...findings.map((f) => `${f.severity}\t${f.ruleId}\t${RULES_BY_ID.get(f.ruleId)!.name}\t${f.message}`),
  ];
  const counts = SEVERITIES.map((s) => `${findings.filter((f) => f.severity === s).length} ${s}`).join(', ');
  let out = findings.length ? tabwrite(lines.join('\n') + '\n', 0, 2) : '';
  const fired = LINT_RULES.filter((r) => findings.some((f) => f.ruleId === r.id));
  if (fired.length) out += '\nFixes:\n' + fired.map((r) => `  ${r.id} ${r.name}: ${r.fix}\n`).join('');
  return out + `\n${findings.length} findings (${counts})${ignored ? `, ${ignored} ignored` : ''}\n`;
}

/** Writes FILE through a temporary name beside it. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const { randomBytes } = await import('node:crypto');
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** `kura lint IMAGE`: the guide's anti-patterns (root, secrets, caches, …) with stable rule IDs. */
export function registerLint(program: Command): void {
  analysisOptions(
    program
      .command('lint [image]')
      .description(
        'check an image for anti-patterns: root user, secrets in any layer / ENV / build args, package caches, ' +
          'setuid and world-writable files, ADD of URLs, no HEALTHCHECK, missing OCI labels, size, latest-only tags',
      )
      .option('--format <format>', 'table, json or sarif (SARIF 2.1.0, for code scanning)', 'table')
      .option('-o, --output <file>', 'write the report to FILE (via a temporary file) instead of stdout')
      .option('--exit-code <n>', 'exit with N when findings remain after --severity and the ignore file', '0')
      .option('--severity <list>', `severities to report, comma-separated (${SEVERITIES.join(',')}; default all)`)
      .option(
        '--ignorefile <file>',
        'ignore file: RULE-ID [PATH-GLOB] [exp:YYYY-MM-DD] per line (default .kura-lint-ignore when present)',
      )
      .option(
        '--max-size <size>',
        'huge-image threshold for any kind of image (default by kind: 100MB static, 300MB alpine, 1GB others)',
      )
      .option('--list-rules', 'print the rules (ID, severity, name, fix) and exit'),
  ).action(async (location: string | undefined, opts: LintCliOptions) => {
    if (opts.listRules) {
      const rows = LINT_RULES.map((r) => `${r.id}\t${r.severity}\t${r.name}\t${r.title}\t${r.fix}`);
      process.stdout.write(
        opts.json
          ? JSON.stringify(LINT_RULES, null, 2) + '\n'
          : tabwrite(['ID\tSEVERITY\tNAME\tFINDS\tFIX', ...rows].join('\n') + '\n', 0, 2),
      );
      return;
    }
    if (!location) throw new UsageError('kura lint needs an image (kura lint IMAGE), or --list-rules');
    // What the work needs, loaded by the work (start-up: `kura lint --help` stays cheap).
    const { applyIgnores, parseIgnoreFile, parseSeverities, toSarif } = await import('../../analysis/lint-output.js');
    const { resolveImage } = await import('../../analysis/resolve.js');
    const { canListTags } = await import('../../oci/artifact.js');
    const format = opts.json ? 'json' : opts.format;
    if (!['table', 'json', 'sarif'].includes(format))
      throw new UsageError(`--format takes table, json or sarif, not "${format}"`);
    const exitCode = Number(opts.exitCode);
    if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255)
      throw new UsageError(`--exit-code takes a number from 0 to 255, not "${opts.exitCode}"`);
    const severities = opts.severity ? parseSeverities(opts.severity) : [...SEVERITIES];
    const maxSize = opts.maxSize !== undefined ? parseSize(opts.maxSize) : undefined;
    let ignores: IgnoreEntry[] = [];
    const ignorePath = opts.ignorefile ?? '.kura-lint-ignore';
    if (existsSync(ignorePath)) ignores = parseIgnoreFile(readFileSync(ignorePath, 'utf8'), ignorePath);
    else if (opts.ignorefile) throw new Error(`--ignorefile ${opts.ignorefile}: no such file`);

    const { loc, root, platform } = await openImage(location, opts);
    const r = await resolveImage(root, platform);
    let tags: string[] | undefined;
    if (loc.transport === 'docker' && canListTags(loc.medium)) {
      tags = await loc.medium.tags().catch((e: Error) => {
        warnLine(`could not list the repository's tags (${e.message.split('\n')[0]}); latest-only-tag not checked`);
        return undefined;
      });
    }
    const cache = await indexCache(opts);
    const { lintImage } = await import('../../analysis/lint.js');
    const all = await lintImage(r, {
      ...(cache ? { cache } : {}),
      onWarning: warnLine,
      ...(maxSize !== undefined ? { maxSize } : {}),
      ...(tags ? { tags } : {}),
    });
    const { kept, ignored, expired } = applyIgnores(all, ignores);
    for (const e of expired)
      warnLine(
        `${ignorePath}:${e.line}: the ignore entry for ${e.ruleId} expired on ${e.expires}; it no longer applies`,
      );
    const findings = kept.filter((f) => severities.includes(f.severity));
    const text =
      format === 'sarif'
        ? JSON.stringify(toSarif(findings, loc.display, '0.1.0'), null, 2) + '\n'
        : format === 'json'
          ? JSON.stringify({ image: loc.display, digest: r.image.descriptor.digest, findings, ignored }, null, 2) + '\n'
          : table(findings, ignored);
    if (opts.output) await writeAtomic(opts.output, text);
    else process.stdout.write(text);
    if (findings.length && exitCode) process.exitCode = exitCode;
  });
}
