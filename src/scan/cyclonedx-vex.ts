/**
 * Scan reports as CycloneDX VEX (JSON, 1.6 or 1.5): the scanned image as metadata.component, each affected package
 * as a component, and one vulnerability per finding with its ratings, `affects` and, where a decision was made,
 * `analysis` (OpenVEX statements mapped to CycloneDX states and justifications, ignore-file rules as will_not_fix).
 */
import { randomUUID } from 'node:crypto';
import type { Suppressed } from './ignore.js';
import type { Finding } from './match.js';
import type { Report } from './report.js';

export type CycloneDxVexVersion = '1.5' | '1.6';

/** OpenVEX justifications → CycloneDX's (the mapping CISA's VEX status justifications document gives). */
const JUSTIFICATION: Record<string, string> = {
  component_not_present: 'code_not_present',
  vulnerable_code_not_present: 'code_not_present',
  vulnerable_code_not_in_execute_path: 'code_not_reachable',
  vulnerable_code_cannot_be_controlled_by_adversary: 'requires_environment',
  inline_mitigations_already_exist: 'protected_by_mitigating_control',
};

/** CycloneDX's rating method of a CVSS vector. */
function method(vector: string | undefined): string {
  if (!vector) return 'other';
  if (vector.startsWith('CVSS:4')) return 'CVSSv4';
  if (vector.startsWith('CVSS:3.1')) return 'CVSSv31';
  if (vector.startsWith('CVSS:3')) return 'CVSSv3';
  return /^\(?AV:/.test(vector) ? 'CVSSv2' : 'other';
}

/** Where an id is published, for `references[].source`. */
function sourceOf(id: string): { name: string; url: string } {
  if (id.startsWith('CVE-')) return { name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` };
  if (id.startsWith('GHSA-')) return { name: 'GitHub', url: `https://github.com/advisories/${id}` };
  return { name: 'OSV', url: `https://osv.dev/vulnerability/${id}` };
}

function analysisOf(f: Finding, rule: Suppressed['rule'] | undefined): object | undefined {
  if (rule?.vex) {
    const j = rule.vex.justification && JUSTIFICATION[rule.vex.justification];
    return {
      state: rule.vex.status === 'fixed' ? 'resolved' : 'not_affected',
      ...(j ? { justification: j } : {}),
      detail: rule.reason,
    };
  }
  if (rule) {
    const until = rule.expires ? ` until ${rule.expires}` : '';
    return {
      response: ['will_not_fix'],
      detail: `ignored by the ignore file (line ${rule.line})${until}: ${rule.reason ?? 'no reason given'}`,
    };
  }
  if (f.vex)
    return {
      state: f.vex.status === 'affected' ? 'exploitable' : 'in_triage',
      detail: [f.vex.detail, `OpenVEX, ${f.vex.where}`].filter(Boolean).join(' '),
    };
  return undefined;
}

function vulnerability(f: Finding, rule: Suppressed['rule'] | undefined, ref: string): object {
  const s = f.severity;
  const analysis = analysisOf(f, rule);
  return {
    'bom-ref': `${f.id}/${ref}`,
    id: f.id,
    source: f.link ? { ...sourceOf(f.id), url: f.link } : sourceOf(f.id),
    ...(f.aliases.length ? { references: f.aliases.map((id) => ({ id, source: sourceOf(id) })) } : {}),
    ratings: [
      {
        source: { name: s.source },
        ...(s.score !== undefined ? { score: s.score } : {}),
        severity: s.level.toLowerCase(),
        method: method(s.vector),
        ...(s.vector ? { vector: s.vector } : {}),
      },
    ],
    ...(f.summary ? { description: f.summary } : {}),
    ...(f.fixed.length ? { recommendation: `Upgrade ${f.pkg.name} to ${f.fixed.join(' or ')}` } : {}),
    ...(f.link ? { advisories: [{ url: f.link }] } : {}),
    ...(analysis ? { analysis } : {}),
    affects: [{ ref, versions: [{ version: f.pkg.version, status: 'affected' }] }],
    properties: [
      { name: 'kura:matched', value: `${f.matched.ecosystem} ${f.matched.name} ${f.matched.version}` },
      ...f.fixed.map((v) => ({ name: 'kura:fixedVersion', value: v })),
      ...(f.pkg.layer >= 0 ? [{ name: 'kura:layer', value: String(f.pkg.layer) }] : []),
    ],
  };
}

/** The report as a CycloneDX VEX document: the findings kept and those suppressed, each with its analysis. */
export function renderCycloneDxVex(r: Report, version: CycloneDxVexVersion = '1.6', now = new Date()): string {
  const entries: [Finding, Suppressed['rule'] | undefined][] = [
    ...r.findings.map((f): [Finding, undefined] => [f, undefined]),
    ...r.suppressed.map((s): [Finding, Suppressed['rule']] => [s.finding, s.rule]),
  ];
  const components = new Map<string, object>();
  const refOf = (f: Finding) => {
    const ref = f.pkg.purl || `${f.pkg.type}:${f.pkg.name}@${f.pkg.version}`;
    if (!components.has(ref))
      components.set(ref, {
        type: 'library',
        'bom-ref': ref,
        name: f.pkg.name,
        version: f.pkg.version,
        ...(f.pkg.purl ? { purl: f.pkg.purl } : {}),
      });
    return ref;
  };
  const vulnerabilities = entries.map(([f, rule]) => vulnerability(f, rule, refOf(f)));
  const doc = {
    bomFormat: 'CycloneDX',
    specVersion: version,
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      tools: { components: [{ type: 'application', group: 'ocikura', name: 'kura', version: r.toolVersion }] },
      component: {
        type: 'container',
        'bom-ref': 'target',
        name: r.target.name,
        ...(r.target.digest ? { version: r.target.digest } : {}),
      },
    },
    components: [...components.values()],
    vulnerabilities,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
