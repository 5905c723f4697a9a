// The vulnerabilities page (/ui/r/REPO/m/DIGEST/vulns): the registry's own scan of the manifest (scan.onPush,
// docs/scan.md) from the metadata store's scans role, or, without one, what to run instead.
import type { ScanRecord } from '../../metadata/types.js';
import type { Ctx } from '../context.js';
import { Page } from '../layout.js';
import { countsLine, countsOf } from '../scan-counts.js';
import { Back } from './sbom.js';

/** Findings listed at most (the rest counted). */
export const VULN_ROWS = 1000;

/** A finding as the stored report (`kura scan --format json`) holds it: the fields shown here. */
interface StoredFinding {
  id: string;
  aliases?: string[];
  pkg: { name: string; version: string; layer?: number };
  fixed?: string[];
  severity: { level: string; score?: number; source?: string };
  link?: string;
}

function parsed<T>(json: string | null): T | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as T;
  } catch {
    return null;
  }
}

/** One line for a scan: "2 critical, 5 high" (non-zero levels), "no vulnerabilities found", or its state. */
export function scanLine(scan: ScanRecord | null): string {
  if (!scan) return 'not scanned';
  if (scan.state === 'pending') return 'scan pending';
  if (scan.state === 'failed') return 'scan failed';
  if (scan.state === 'skipped') return 'not scanned (no filesystem layers)';
  const line = countsLine(countsOf(scan.summary));
  return line === 'none found' ? 'no vulnerabilities found' : line;
}

function Findings({ findings }: { findings: StoredFinding[] }) {
  return (
    <table>
      <caption>Findings, highest severity first</caption>
      <thead>
        <tr>
          <th scope="col">Vulnerability</th>
          <th scope="col">Severity</th>
          <th scope="col">Package</th>
          <th scope="col">Installed</th>
          <th scope="col">Fixed in</th>
          <th scope="col">Layer</th>
        </tr>
      </thead>
      <tbody>
        {findings.slice(0, VULN_ROWS).map((f) => (
          <tr>
            <td>
              {f.link ? <a href={f.link}>{f.id}</a> : f.id}
              {f.aliases?.length ? ` (${f.aliases.join(', ')})` : ''}
            </td>
            <td>
              {f.severity.level}
              {f.severity.score !== undefined ? ` ${f.severity.score}` : ''}
              {f.severity.source ? ` (${f.severity.source})` : ''}
            </td>
            <td>{f.pkg.name}</td>
            <td>{f.pkg.version}</td>
            <td>{f.fixed?.length ? f.fixed.join(', ') : 'not fixed'}</td>
            <td>{f.pkg.layer !== undefined ? String(f.pkg.layer) : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function VulnsPage(p: { ctx: Ctx; repo: string; digest: string; scan: ScanRecord | null }) {
  const { ctx, repo, digest, scan } = p;
  const command = <code>{`kura scan docker://${ctx.host}/${repo}@${digest}`}</code>;
  const findings = scan?.state === 'done' ? (parsed<{ findings?: StoredFinding[] }>(scan.report)?.findings ?? []) : [];
  return (
    <Page ctx={ctx} title={`Vulnerabilities of ${repo}@${digest.slice(0, 19)}`} section="/ui/repos">
      <Back repo={repo} digest={digest} />
      {!scan ? (
        <p>Not scanned: this registry scans images pushed while scanning on push (scan.onPush) is on. Run {command}.</p>
      ) : (
        <p>{`Scan: ${scanLine(scan)}, as of ${new Date(scan.updatedAt).toISOString()}.`}</p>
      )}
      {scan?.state === 'failed' && scan.error ? <p>{`Why: ${scan.error}`}</p> : null}
      {findings.length ? <Findings findings={findings} /> : null}
      {findings.length > VULN_ROWS ? (
        <p>{`${findings.length - VULN_ROWS} more are not listed; run the command:`}</p>
      ) : null}
      {findings.length > VULN_ROWS ? <p>{command}</p> : null}
      <p>
        <a href={`/ui/r/${repo}/m/${digest}/sbom`}>The packages of this image</a>
      </p>
    </Page>
  );
}
