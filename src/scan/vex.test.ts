// OpenVEX input (documents shaped like the OpenVEX spec's examples, v0.2.0 and v0.0.1) and CycloneDX VEX output,
// the latter checked with @cyclonedx/cyclonedx-library's strict validator (the published 1.5 and 1.6 schemas).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderCycloneDxVex } from './cyclonedx-vex.js';
import type { Finding } from './match.js';
import { applyVex, isOpenVex, parseOpenVex } from './openvex.js';
import type { Report } from './report.js';

const DIGEST = 'sha256:54e8b1f6f5ef2d0a4d5e1c0f4b7a9d0e3c2b1a09f8e7d6c5b4a3928170615243';
const target = { name: 'ghcr.io/example/app:v1', digest: DIGEST };

const finding = (id: string, aliases: string[], name: string, version: string, extra: Partial<Finding> = {}) =>
  ({
    id,
    aliases,
    pkg: { name, version, type: 'npm', purl: `pkg:npm/${name}@${version}`, layer: 1, locations: [] },
    matched: { ecosystem: 'npm', name, version },
    fixed: ['9.9.9'],
    severity: {
      level: 'HIGH',
      score: 7.5,
      vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N',
      source: 'CVSS:3.1',
    },
    summary: `${name} is vulnerable`,
    link: `https://github.com/advisories/${aliases[0] ?? id}`,
    ...extra,
  }) as Finding;

const express = finding('CVE-2024-43796', ['GHSA-qw6h-vgh9-j6wx'], 'express', '4.19.2');
const send = finding('CVE-2024-43796', ['GHSA-qw6h-vgh9-j6wx'], 'send', '0.18.0');
const cookie = finding('CVE-2024-47764', ['GHSA-pxg6-pf52-xh8x'], 'cookie', '0.6.0');
const bodyParser = finding('CVE-2024-45590', ['GHSA-qwcr-r2fm-qrc7'], 'body-parser', '1.20.2');
const ms = finding('CVE-2017-20162', [], 'ms', '2.0.0');

/** The spec's image example: a pkg:oci product (digest as version) with a subcomponent, and more statements. */
const doc = {
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://openvex.dev/docs/example/vex-9fb3463de1b57',
  author: 'Wolfi J Inkinson',
  role: 'Document Creator',
  timestamp: '2023-01-08T18:02:03Z',
  version: 1,
  statements: [
    {
      vulnerability: { name: 'CVE-2024-43796' },
      products: [
        {
          '@id': `pkg:oci/app@${encodeURIComponent(DIGEST)}?repository_url=ghcr.io/example`,
          subcomponents: [{ '@id': 'pkg:npm/express@4.19.2' }],
        },
      ],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      impact_statement: 'the app never calls res.redirect with user input',
    },
    {
      // By alias, the package without a version: every version of cookie.
      vulnerability: { name: 'GHSA-pxg6-pf52-xh8x' },
      products: [{ '@id': 'pkg:npm/cookie' }],
      status: 'fixed',
      status_notes: 'patched in our fork',
    },
    {
      vulnerability: { '@id': 'https://nvd.nist.gov/vuln/detail/CVE-2024-45590', name: 'CVE-2024-45590' },
      products: [{ '@id': 'pkg:npm/body-parser@1.20.2' }],
      status: 'not_affected',
      justification: 'inline_mitigations_already_exist',
      timestamp: '2023-01-09T00:00:00Z',
    },
    {
      // A later statement about the same finding decides: investigation reopened it.
      vulnerability: { name: 'CVE-2024-45590' },
      products: [{ '@id': 'pkg:npm/body-parser@1.20.2' }],
      status: 'under_investigation',
      timestamp: '2023-02-01T00:00:00Z',
    },
    {
      // Another image (another digest): says nothing about this one.
      vulnerability: { name: 'CVE-2017-20162' },
      products: [{ '@id': `pkg:oci/app@${encodeURIComponent(DIGEST.replace('54e8', '0000'))}` }],
      status: 'not_affected',
      justification: 'component_not_present',
    },
  ],
};

test('OpenVEX: not_affected and fixed suppress, the justification the reason; the newest statement decides', () => {
  const text = JSON.stringify(doc);
  assert.ok(isOpenVex(text));
  assert.ok(!isOpenVex('CVE-2024-1\n'));
  assert.ok(!isOpenVex('{"bomFormat": "CycloneDX"}'));
  const statements = parseOpenVex(text, 'app.openvex.json');
  const { kept, suppressed } = applyVex([express, send, cookie, bodyParser, ms], statements, target);
  assert.deepEqual(
    suppressed.map((s) => [s.finding.pkg.name, s.rule.vex?.status, s.rule.reason]),
    [
      [
        'express',
        'not_affected',
        'vulnerable_code_not_in_execute_path: the app never calls res.redirect with user input ' +
          '(OpenVEX, app.openvex.json: statement 1)',
      ],
      ['cookie', 'fixed', 'fixed: patched in our fork (OpenVEX, app.openvex.json: statement 2)'],
    ],
  );
  // send has the same CVE in the same image, but is not the statement's subcomponent.
  assert.deepEqual(
    kept.map((f) => [f.pkg.name, f.vex?.status]),
    [
      ['send', undefined],
      ['body-parser', 'under_investigation'],
      ['ms', undefined],
    ],
  );
  // Scanning something else (an SBOM file, no digest): the image statement does not apply; the package ones do.
  const other = applyVex([express, cookie], statements, { name: 'sbom.json' });
  assert.deepEqual(
    other.kept.map((f) => f.pkg.name),
    ['express'],
  );
});

test('OpenVEX v0.0.1 string forms, an image named by digest without subcomponents, and bad documents', () => {
  const old = {
    '@context': 'https://openvex.dev/ns',
    timestamp: '2023-01-08T18:02:03Z',
    statements: [
      {
        vulnerability: 'CVE-2017-20162',
        products: [DIGEST],
        status: 'not_affected',
        justification: 'component_not_present',
      },
      { vulnerability: 'CVE-2024-47764', products: ['pkg:npm/cookie@0.7.0'], status: 'fixed' },
    ],
  };
  const s = parseOpenVex(JSON.stringify(old), 'old.json');
  const { kept, suppressed } = applyVex([ms, cookie], s, target);
  assert.deepEqual(
    suppressed.map((x) => x.finding.pkg.name),
    ['ms'],
  );
  assert.deepEqual(
    kept.map((x) => x.pkg.name),
    ['cookie'],
    'a statement about cookie 0.7.0 says nothing about 0.6.0',
  );
  const bad = (statements: unknown) => () =>
    parseOpenVex(JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', statements }), 'x.json');
  assert.throws(
    bad([{ vulnerability: {}, products: ['a'], status: 'fixed' }]),
    /x\.json: statement 1: no vulnerability/,
  );
  assert.throws(
    bad([{ vulnerability: 'CVE-1', products: ['a'], status: 'gone' }]),
    /statement 1: status "gone" is not one of not_affected, affected, fixed, under_investigation/,
  );
  assert.throws(bad([{ vulnerability: 'CVE-1', status: 'fixed' }]), /statement 1: no products; name the image/);
  assert.throws(() => parseOpenVex('{"@context": "x"}', 'y.json'), /y\.json: no "statements" list/);
});

test('CycloneDX VEX 1.6 and 1.5: valid against the schema, with affects and each decision as analysis', async () => {
  const { Validation, Spec } = await import('@cyclonedx/cyclonedx-library');
  const vex = parseOpenVex(JSON.stringify(doc), 'app.openvex.json');
  // A report as scanSbom makes it: an ignore-file rule, OpenVEX statements, and findings kept.
  const { kept, suppressed } = applyVex([express, send, cookie, bodyParser, ms], vex, target);
  const report: Report = {
    target,
    findings: kept.filter((f) => f.pkg.name !== 'ms'),
    suppressed: [
      ...suppressed,
      { finding: ms, rule: { id: ms.id, line: 3, reason: 'accepted risk', expires: '2030-01-01' } },
    ],
    packages: { scanned: 5, skipped: 0 },
    database: { file: 'osv.sqlite' },
    toolVersion: '0.1.0',
  };
  for (const version of ['1.6', '1.5'] as const) {
    const json = renderCycloneDxVex(report, version);
    const err = await new Validation.JsonStrictValidator(
      version === '1.6' ? Spec.Version.v1dot6 : Spec.Version.v1dot5,
    ).validate(json);
    assert.equal(err, null, JSON.stringify(err)?.slice(0, 800));
    const out = JSON.parse(json) as {
      specVersion: string;
      components: { 'bom-ref': string; purl: string }[];
      vulnerabilities: {
        id: string;
        affects: { ref: string; versions: { version: string; status: string }[] }[];
        analysis?: { state?: string; justification?: string; response?: string[]; detail: string };
        ratings: { method: string; score: number; severity: string }[];
        references?: { id: string }[];
      }[];
    };
    assert.equal(out.specVersion, version);
    const refs = new Set(out.components.map((c) => c['bom-ref']));
    const byPkg = new Map(out.vulnerabilities.map((v) => [v.affects[0]!.ref, v]));
    for (const v of out.vulnerabilities) assert.ok(refs.has(v.affects[0]!.ref), 'affects names a component');
    const a = (name: string, v: string) => byPkg.get(`pkg:npm/${name}@${v}`)!;
    assert.deepEqual(
      [a('express', '4.19.2').analysis?.state, a('express', '4.19.2').analysis?.justification],
      ['not_affected', 'code_not_reachable'],
    );
    assert.equal(a('cookie', '0.6.0').analysis?.state, 'resolved');
    assert.equal(a('body-parser', '1.20.2').analysis?.state, 'in_triage');
    assert.equal(a('send', '0.18.0').analysis, undefined, 'no decision, no analysis');
    assert.deepEqual(a('ms', '2.0.0').analysis?.response, ['will_not_fix']);
    assert.match(a('ms', '2.0.0').analysis!.detail, /line 3\) until 2030-01-01: accepted risk/);
    assert.deepEqual(a('send', '0.18.0').affects[0]!.versions, [{ version: '0.18.0', status: 'affected' }]);
    assert.deepEqual(a('send', '0.18.0').references, [
      {
        id: 'GHSA-qw6h-vgh9-j6wx',
        source: { name: 'GitHub', url: 'https://github.com/advisories/GHSA-qw6h-vgh9-j6wx' },
      },
    ]);
    assert.deepEqual(
      [a('send', '0.18.0').ratings[0]!.method, a('send', '0.18.0').ratings[0]!.severity],
      ['CVSSv31', 'high'],
    );
  }
});
