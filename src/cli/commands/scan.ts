/** `kura scan IMAGE` / `kura scan --sbom FILE`: vulnerabilities of an image's packages, from the offline OSV database. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { analysisOptions, warnLine, type AnalysisOptions } from '../analysis-options.js';
import { openImage } from '../image-options.js';
import { UsageError } from '../errors.js';
import type { ReportFormat } from '../../scan/report.js';
import { DB_DIR_HELP, dbFile } from '../../scan/db-path.js';
import { attester, attestFlags, type AttestFlags } from '../signing-options.js';

interface ScanCliOptions extends AnalysisOptions, AttestFlags {
  sbom?: string;
  format: string;
  output?: string;
  exitCode: string;
  severity?: string;
  ignoreUnfixed?: boolean;
  ignorefile?: string;
  vex: string[];
  dbDir?: string;
  maxDbAge: string;
}

const FORMATS = ['table', 'json', 'sarif', 'cyclonedx', 'cyclonedx@1.5'];

async function writeWhole(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** `kura scan`. */
export function registerScan(program: Command): void {
  const cmd = analysisOptions(
    program
      .command('scan [image]')
      .description(
        'list the known vulnerabilities of the packages of an image (any location) or of an SPDX/CycloneDX SBOM, ' +
          'offline, from the OSV database of "kura db import" or "kura db update"',
      )
      .option('--sbom <file>', 'scan an SBOM file (SPDX 2.3 or CycloneDX JSON, from any tool) instead of an image')
      .option(
        '--format <format>',
        'table, json, sarif (SARIF 2.1.0, for code scanning) or cyclonedx (CycloneDX 1.6 VEX; cyclonedx@1.5)',
        'table',
      )
      .option('-o, --output <file>', 'write the report to FILE (via a temporary file) instead of stdout')
      .option('--severity <list>', 'severities to report, comma-separated (UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL)')
      .option('--ignore-unfixed', 'leave out vulnerabilities that have no fixed version yet')
      .option('--exit-code <n>', 'exit with N when findings remain after the filters and the ignore file', '0')
      .option(
        '--ignorefile <file>',
        '.trivyignore syntax: an id (CVE, GHSA, …) per line, optional exp:YYYY-MM-DD, # comments as the reason ' +
          '(default .trivyignore when present); an OpenVEX JSON document there is read as --vex',
      )
      .option(
        '--vex <file>',
        'an OpenVEX document: not_affected and fixed statements suppress the findings they name (repeatable)',
        (v: string, acc: string[]) => [...acc, v],
        [] as string[],
      )
      .option('--db-dir <dir>', DB_DIR_HELP)
      .option('--max-db-age <days>', 'warn when the newest import of the database is older than this', '7'),
  );
  attestFlags(cmd, "the report (cosign's vuln predicate, --type vuln)").action(
    async (image: string | undefined, opts: ScanCliOptions) => {
      const format = opts.json ? 'json' : opts.format;
      if (!FORMATS.includes(format))
        throw new UsageError(`--format takes table, json, sarif, cyclonedx or cyclonedx@1.5, not "${format}"`);
      const exitCode = Number(opts.exitCode);
      if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255)
        throw new UsageError(`--exit-code takes a number from 0 to 255, not "${opts.exitCode}"`);
      const maxAge = Number(opts.maxDbAge);
      if (!Number.isFinite(maxAge) || maxAge < 0)
        throw new UsageError(`--max-db-age takes a number of days, not "${opts.maxDbAge}"`);
      if (!image === !opts.sbom)
        throw new UsageError('kura scan takes an image or --sbom FILE (one of them): kura scan IMAGE');
      if (opts.attest && opts.sbom) throw new UsageError('--attest attests an image: give IMAGE, not --sbom');
      const { parseSeverityList, scanSbom } = await import('../../scan/scan.js');
      let severities;
      try {
        severities = opts.severity ? parseSeverityList(opts.severity) : undefined;
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const { parseIgnoreFile } = await import('../../scan/ignore.js');
      const ignorePath = opts.ignorefile ?? '.trivyignore';
      if (opts.ignorefile && !existsSync(ignorePath)) throw new Error(`--ignorefile ${ignorePath}: no such file`);
      const { isOpenVex, parseOpenVex } = await import('../../scan/openvex.js');
      const ignoreText = existsSync(ignorePath) ? await readFile(ignorePath, 'utf8') : '';
      const ignoreIsVex = isOpenVex(ignoreText);
      const ignores = ignoreText && !ignoreIsVex ? parseIgnoreFile(ignoreText, ignorePath) : [];
      const vex = ignoreIsVex ? parseOpenVex(ignoreText, ignorePath) : [];
      for (const file of opts.vex) {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch {
          throw new Error(`--vex ${file}: no such file`);
        }
        vex.push(...parseOpenVex(text, file));
      }

      const { AdvisoryDb } = await import('../../scan/db.js');
      const db = AdvisoryDb.open(dbFile(opts));
      try {
        const newest = Math.max(0, ...db.sources().map((s) => Date.parse(s.importedAt)));
        if (Date.now() - newest > maxAge * 86_400_000)
          warnLine(
            `the advisory database is older than ${maxAge} days; run "kura db import" (or "kura db update") again`,
          );
        let sbom;
        let target;
        let attest: Awaited<ReturnType<typeof attester>>;
        let subject: string | undefined;
        const startedOn = new Date().toISOString();
        if (opts.sbom) {
          const { readSbomFile } = await import('../../scan/sbom-file.js');
          let text: string;
          try {
            text = await readFile(opts.sbom, 'utf8');
          } catch {
            throw new Error(`--sbom ${opts.sbom}: no such file`);
          }
          sbom = readSbomFile(text, opts.sbom);
          target = { name: opts.sbom };
        } else {
          const { loc, root, platform } = await openImage(image!, opts, !opts.attest);
          attest = await attester(opts, loc);
          const { resolveImage } = await import('../../analysis/resolve.js');
          const r = await resolveImage(root, platform);
          subject = r.image.descriptor.digest;
          const { catalogImage } = await import('../../sbom/catalog.js');
          sbom = await catalogImage(r, { name: loc.display });
          target = { name: loc.display, digest: sbom.image.digest, layers: sbom.image.layers };
        }
        for (const w of sbom.warnings) warnLine(w);
        const d = sbom.distro;
        const report = scanSbom(
          sbom,
          db,
          { ...target, ...(d ? { distro: `${d.id}${d.versionId ? ` ${d.versionId}` : ''}` } : {}) },
          { severities, ignoreUnfixed: opts.ignoreUnfixed, ignores, vex, toolVersion: '0.1.0' },
        );
        for (const w of report.warnings) warnLine(w);
        const { renderReport } = await import('../../scan/report.js');
        const text = renderReport(report, format as ReportFormat);
        if (opts.output) await writeWhole(opts.output, text);
        else process.stdout.write(text);
        if (attest) {
          const result = JSON.parse(renderReport(report, 'json')) as unknown;
          await attest(subject!, 'vuln', {
            invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
            scanner: {
              uri: `pkg:npm/ocikura@${report.toolVersion}`,
              version: report.toolVersion,
              db: { uri: 'https://osv.dev', version: report.database.builtAt ?? '' },
              result,
            },
            metadata: { scanStartedOn: startedOn, scanFinishedOn: new Date().toISOString() },
          });
        }
        if (report.findings.length && exitCode) process.exitCode = exitCode;
      } finally {
        db.close();
      }
    },
  );
}
