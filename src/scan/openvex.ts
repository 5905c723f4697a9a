/**
 * OpenVEX documents (v0.2.0, and v0.0.x's string forms) as scan input: the newest statement about a finding's
 * vulnerability and package decides; `not_affected` and `fixed` suppress it (the justification is the reason),
 * `affected` and `under_investigation` keep it with the statement attached.
 */
import { PackageURL } from 'packageurl-js';
import type { IgnoreRule, Suppressed } from './ignore.js';
import type { Finding } from './match.js';

export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];

interface Product {
  ids: string[];
  subcomponents: string[][];
}

/** One statement, flattened: every name of its vulnerability, its products, status and the texts it gives. */
export interface VexStatement {
  vulnerability: string[];
  products: Product[];
  status: VexStatus;
  justification?: string;
  /** impact_statement, action_statement or status_notes: what people read. */
  detail?: string;
  timestamp: string;
  /** file#index, for messages and reports. */
  where: string;
}

/** Whether a JSON text is an OpenVEX document (its `@context` is openvex.dev's), so an ignore file may be one. */
export function isOpenVex(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const ctx = (JSON.parse(text) as { '@context'?: unknown })['@context'];
    return typeof ctx === 'string' && ctx.startsWith('https://openvex.dev/ns');
  } catch {
    return false;
  }
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** A product or subcomponent's identifiers: `@id`, `identifiers.purl`, `hashes` as `sha256:HEX` (v0.0.x: a string). */
function idsOf(p: unknown): string[] {
  if (typeof p === 'string') return [p];
  const o = (p ?? {}) as Obj;
  const ident = (o.identifiers ?? {}) as Obj;
  const hashes = (o.hashes ?? {}) as Obj;
  const sha = str(hashes['sha-256']) ?? str(hashes.sha256);
  return [str(o['@id']), str(ident.purl), sha ? `sha256:${sha}` : undefined].filter((x): x is string => !!x);
}

/** Parses an OpenVEX document; a field that is wrong throws naming the file, the statement and the fix. */
export function parseOpenVex(text: string, file: string): VexStatement[] {
  let doc: Obj;
  try {
    doc = JSON.parse(text) as Obj;
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message}); give an OpenVEX document`);
  }
  if (!Array.isArray(doc.statements)) throw new Error(`${file}: no "statements" list; give an OpenVEX document`);
  const docTime = str(doc.timestamp) ?? '';
  return (doc.statements as Obj[]).map((s, i) => {
    const where = `${file}: statement ${i + 1}`;
    const v = s.vulnerability;
    const vulnerability =
      typeof v === 'string'
        ? [v]
        : [
            str((v as Obj)?.name),
            str((v as Obj)?.['@id']),
            ...(((v as Obj)?.aliases as unknown[]) ?? []).map(str),
          ].filter((x): x is string => !!x);
    if (!vulnerability.length)
      throw new Error(`${where}: no vulnerability name; write "vulnerability": {"name": "CVE-…"}`);
    const status = s.status as VexStatus;
    if (!VEX_STATUSES.includes(status))
      throw new Error(`${where}: status "${String(s.status)}" is not one of ${VEX_STATUSES.join(', ')}`);
    if (!Array.isArray(s.products) || !s.products.length)
      throw new Error(`${where}: no products; name the image or package by purl ("products": [{"@id": "pkg:…"}])`);
    const products = (s.products as unknown[]).map((p) => ({
      ids: idsOf(p),
      subcomponents: ((typeof p === 'object' && p ? ((p as Obj).subcomponents as unknown[]) : []) ?? []).map(idsOf),
    }));
    const detail = [s.impact_statement, s.action_statement, s.status_notes].map(str).filter(Boolean).join('; ');
    return {
      vulnerability,
      products,
      status,
      ...(str(s.justification) ? { justification: str(s.justification) } : {}),
      ...(detail ? { detail } : {}),
      timestamp: str(s.last_updated) ?? str(s.timestamp) ?? docTime,
      where,
    };
  });
}

function purlOf(text: string): PackageURL | undefined {
  try {
    return text.startsWith('pkg:') ? PackageURL.fromString(text) : undefined;
  } catch {
    return undefined;
  }
}

/** A statement's package purl against a finding's: same type, namespace, name; its version and qualifiers if given. */
function samePackage(stated: string, actual: string): boolean {
  const s = purlOf(stated);
  const a = purlOf(actual);
  if (!s || !a || s.type !== a.type || s.name !== a.name || (s.namespace ?? '') !== (a.namespace ?? '')) return false;
  if (s.version && s.version !== a.version) return false;
  const aq = (a.qualifiers ?? {}) as Record<string, string>;
  return Object.entries((s.qualifiers ?? {}) as Record<string, string>).every(([k, v]) => aq[k] === v);
}

/** The scanned image, named by an identifier: its digest (bare or as `sha256:` hash), or a `pkg:oci` purl of it. */
function isTarget(id: string, target: { name: string; digest?: string }): boolean {
  if (target.digest && id === target.digest) return true;
  const p = purlOf(id);
  if (p?.type !== 'oci') return false;
  if (p.version) return p.version === target.digest;
  const repo = target.name.replace(/^[a-z-]+:(\/\/)?/, '').replace(/[:@].*$/, '');
  return repo.split('/').pop()?.toLowerCase() === p.name.toLowerCase();
}

/** Whether a statement speaks of this finding (its vulnerability, and its package or the image holding it). */
function covers(s: VexStatement, f: Finding, target: { name: string; digest?: string }): boolean {
  if (!s.vulnerability.some((v) => v === f.id || f.aliases.includes(v))) return false;
  return s.products.some((p) => {
    if (p.ids.some((id) => samePackage(id, f.pkg.purl))) return true;
    if (!p.ids.some((id) => isTarget(id, target))) return false;
    return !p.subcomponents.length || p.subcomponents.some((ids) => ids.some((id) => samePackage(id, f.pkg.purl)));
  });
}

/** The statement that decides a finding: the newest of those covering it (the later one on a tie), if any. */
export function statementFor(
  statements: VexStatement[],
  f: Finding,
  target: { name: string; digest?: string },
): VexStatement | undefined {
  let best: VexStatement | undefined;
  for (const s of statements) if (covers(s, f, target) && (!best || s.timestamp >= best.timestamp)) best = s;
  return best;
}

/** Applies OpenVEX statements: suppressed findings get a rule naming the statement, kept ones carry it. */
export function applyVex(
  findings: Finding[],
  statements: VexStatement[],
  target: { name: string; digest?: string },
): { kept: Finding[]; suppressed: Suppressed[] } {
  const kept: Finding[] = [];
  const suppressed: Suppressed[] = [];
  for (const f of findings) {
    const s = statementFor(statements, f, target);
    if (s?.status === 'not_affected' || s?.status === 'fixed') {
      const reason = [s.status === 'fixed' ? 'fixed' : (s.justification ?? 'not affected'), s.detail];
      const rule: IgnoreRule = {
        id: f.id,
        line: 0,
        reason: `${reason.filter(Boolean).join(': ')} (OpenVEX, ${s.where})`,
        vex: { status: s.status, where: s.where, ...(s.justification ? { justification: s.justification } : {}) },
      };
      suppressed.push({ finding: f, rule });
    } else if (s) {
      kept.push({ ...f, vex: { status: s.status, where: s.where, ...(s.detail ? { detail: s.detail } : {}) } });
    } else kept.push(f);
  }
  return { kept, suppressed };
}
