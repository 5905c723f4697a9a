import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Finding } from '../analysis/lint-rules.js';
import { startTestServer, type TestServer } from './testkit.js';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient, RegistryRepository } from '../transports/registry/index.js';
import { analysisFixture, fixtureMissing, type AnalysisFixture } from './analysis-fixture.js';
import { runKura } from './helpers.js';
import { tempDir } from './tempdirs.js';

const work = tempDir('kura-lint-');
const env: NodeJS.ProcessEnv = { ...process.env, KURA_STORE: join(work, 'store') };
delete env.CI;
const kura = (...args: string[]) => runKura(args, { env, cwd: work });
const findings = async (...args: string[]) =>
  (JSON.parse((await kura('lint', '--format', 'json', ...args)).stdout) as { findings: Finding[] }).findings;

/** Fragments of every secret the fixture plants: none may ever be printed. */
const SECRETS = [
  'AKIAQWERTYUIOPASDF12',
  'wJalrXUtnFEMIK7MDENG',
  'ghp_abcdefghijklmnop',
  'npm_abcdefghijklmnop',
  'b3BlbnNzaC1rZXktdjEA',
];

const SARIF_SCHEMA = '/work/shared/fixtures/schemas/sarif-2.1.0.schema.json';

/** ajv (draft-04, as the SARIF schema is) with formats when ajv-formats is installed. */
function sarifValidator(): ((d: unknown) => boolean) & { errors?: unknown } {
  const require = createRequire(import.meta.url);
  const Ajv = require('ajv-draft-04') as new (o: object) => {
    compile(s: object): ((d: unknown) => boolean) & { errors?: unknown };
  };
  const addFormats = (() => {
    try {
      return require('ajv-formats') as (a: unknown) => void;
    } catch {
      return undefined;
    }
  })();
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: !!addFormats });
  addFormats?.(ajv);
  return ajv.compile(JSON.parse(readFileSync(SARIF_SCHEMA, 'utf8')) as object);
}

const skip = fixtureMissing();
let fx: AnalysisFixture;
let ts: TestServer;
let host: string;
before(async () => {
  if (!skip) fx = await analysisFixture();
  ts = await startTestServer();
  host = new URL(ts.url).host;
});
after(() => ts.close());

test(
  'kura lint on the real-tools fixture: each rule it plants fires; a secret deleted in a later layer is found; no ' +
    'secret is printed',
  { skip },
  async () => {
    const all = await findings(fx.v1);
    const ids = (id: string) => all.filter((f) => f.ruleId === id);
    assert.equal(ids('KURA001')[0]!.message, 'no USER is set, so the image runs as root');
    const key = ids('KURA002').find((f) => f.path === '/root/.ssh/id_rsa')!;
    assert.deepEqual([key.kind, key.layer, key.deleted, key.line], ['private-key', 0, true, 1]);
    assert.match(key.fingerprint!, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      ids('KURA002')
        .filter((f) => f.path === '/app/.env')
        .map((f) => [f.kind, f.line, f.deleted]),
      [
        ['aws-access-key-id', 1, false],
        ['aws-secret-access-key', 2, false],
      ],
    );
    assert.deepEqual(
      ids('KURA003').map((f) => f.message),
      ['ENV API_TOKEN holds a secret (github-token)'],
    );
    assert.deepEqual(
      ids('KURA004').map((f) => f.message),
      ['history step 3 records NPM_TOKEN (npm-token)'],
    );
    assert.deepEqual(
      ids('KURA006').map((f) => f.path),
      ['/usr/bin/su', '/usr/bin/wall'],
    );
    assert.deepEqual(
      ids('KURA007').map((f) => f.path),
      ['/data/ww'],
      '/tmp (1777) is exempt',
    );
    assert.equal(ids('KURA008').length, 1);
    assert.equal(ids('KURA009').length, 1);
    assert.match(
      ids('KURA010')[0]!.message,
      /revision, org\.opencontainers\.image\.version, org\.opencontainers\.image\.created$/,
      'source is set',
    );
    assert.equal(ids('KURA011').length, 0);
    const v2 = await findings(fx.v2);
    assert.ok(!v2.some((f) => f.ruleId === 'KURA001'), 'v2 sets USER 1000:1000');
    for (const format of ['table', 'json', 'sarif']) {
      const out = (await kura('lint', '--format', format, fx.v1)).stdout;
      for (const s of SECRETS) assert.ok(!out.includes(s), `${format} output leaks ${s}`);
    }
  },
);

test(
  'kura lint --format sarif validates against the SARIF 2.1.0 schema',
  {
    skip:
      skip ??
      (existsSync(SARIF_SCHEMA) ? undefined : '/work/shared/fixtures is not here (the SARIF schema lives there)'),
  },
  async () => {
    const validate = sarifValidator();
    const out = join(work, 'report.sarif');
    const r = await kura('lint', '--format', 'sarif', '-o', out, fx.v1);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as {
      version: string;
      runs: {
        results: { ruleId: string; partialFingerprints?: object }[];
        tool: { driver: { rules: { id: string }[] } };
      }[];
    };
    assert.equal(validate(doc), true, JSON.stringify(validate.errors, null, 1));
    assert.equal(doc.version, '2.1.0');
    assert.equal(doc.runs[0]!.tool.driver.rules.length, 12);
    assert.ok(doc.runs[0]!.results.some((x) => x.ruleId === 'KURA002' && x.partialFingerprints));
    const broken = structuredClone(doc) as unknown as { runs: { results: { level: string }[] }[] };
    broken.runs[0]!.results[0]!.level = 'fatal';
    assert.equal(validate(broken), false, 'the validator catches a bad document');
    assert.deepEqual(
      readdirSync(work).filter((n) => n.includes('.tmp')),
      [],
    );
  },
);

test('kura lint --exit-code, --severity, an ignore file with expiry; bad input', { skip }, async () => {
  assert.equal((await kura('lint', fx.v1)).code, 0, 'findings alone do not fail without --exit-code');
  assert.equal((await kura('lint', '--exit-code', '3', fx.v1)).code, 3);
  const crit = await findings('--severity', 'critical', fx.v1);
  assert.ok(crit.length > 0 && crit.every((f) => f.severity === 'CRITICAL'));
  assert.equal(
    (await kura('lint', '--severity', 'HIGH', '--exit-code', '1', fx.v2)).code,
    1,
    'v2 still has HIGH (secret ENV)',
  );
  writeFileSync(
    join(work, 'ign'),
    '# accepted risks\nKURA002 /root/** exp:2999-01-01\nKURA006\nKURA003 exp:2000-01-01  # expired\n',
  );
  const r = await kura('lint', '--format', 'json', '--ignorefile', 'ign', fx.v1);
  const doc = JSON.parse(r.stdout) as { findings: Finding[]; ignored: number };
  assert.ok(!doc.findings.some((f) => f.ruleId === 'KURA006' || f.path === '/root/.ssh/id_rsa'));
  assert.ok(
    doc.findings.some((f) => f.ruleId === 'KURA002' && f.path === '/app/.env'),
    'the glob limits the entry',
  );
  assert.ok(
    doc.findings.some((f) => f.ruleId === 'KURA003'),
    'an expired entry no longer applies',
  );
  assert.equal(doc.ignored, 3);
  assert.match(r.stderr, /kura: warning: ign:4: the ignore entry for KURA003 expired on 2000-01-01/);
  writeFileSync(join(work, '.kura-lint-ignore'), 'KURA001\n');
  assert.ok(!(await findings(fx.v1)).some((f) => f.ruleId === 'KURA001'), '.kura-lint-ignore is read by default');
  writeFileSync(join(work, '.kura-lint-ignore'), 'KURA999\n');
  const bad = await kura('lint', fx.v1);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'kura: error: .kura-lint-ignore:1: unknown rule "KURA999"; see kura lint --list-rules\n');
  writeFileSync(join(work, '.kura-lint-ignore'), '');
  assert.match(
    (await kura('lint', '--severity', 'urgent', fx.v1)).stderr,
    /^kura: error: --severity: unknown severity "URGENT"/,
  );
  assert.match(
    (await kura('lint', '--format', 'xml', fx.v1)).stderr,
    /^kura: error: --format takes table, json or sarif/,
  );
  assert.match((await kura('lint', '--list-rules')).stdout, /KURA012\s+LOW\s+latest-only-tag/);
});

test(
  'kura lint: package caches (deleted later or not), huge image by --max-size, a clean image, latest-only tags ' +
    'from a registry',
  async () => {
    const b = (s: string) => Buffer.from(s);
    const art = await randomImage({
      files: [
        [
          { name: 'var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease', data: b('x'.repeat(500)) },
          { name: 'var/lib/apt/lists/lock', data: b('') },
          { name: 'root/.npm/_cacache/index', data: b('y') },
        ],
        [{ name: 'var/lib/apt/.wh.lists' }, { name: 'usr/bin/app', data: b('z'.repeat(2000)), mode: 0o755 }],
      ],
      labels: {
        'org.opencontainers.image.source': 's',
        'org.opencontainers.image.revision': 'r',
        'org.opencontainers.image.version': 'v',
        'org.opencontainers.image.created': 'c',
      },
    });
    await new OciLayout(join(work, 'caches')).write('v1', art);
    const loc = `oci:${join(work, 'caches')}:v1`;
    const got = await findings(loc);
    assert.deepEqual(
      got.filter((f) => f.ruleId === 'KURA005').map((f) => f.message),
      ['apt lists: 1 files, 500B in layer 0', 'npm cache: 1 files, 1B in layer 0'],
    );
    assert.ok(!got.some((f) => f.ruleId === 'KURA010'), 'all four OCI labels set');
    assert.ok(!got.some((f) => f.ruleId === 'KURA011'));
    assert.deepEqual(
      (await findings('--max-size', '2kB', loc)).filter((f) => f.ruleId === 'KURA011').map((f) => f.message),
      ['2.5kB of files, above 2kB for the --max-size limit'],
    );
    const repo = new RegistryRepository(new RegistryClient({ registry: host }), 'lint/app');
    await repo.write('latest', await new OciLayout(join(work, 'caches')).get('v1'));
    assert.equal((await findings(`${host}/lint/app:latest`)).filter((f) => f.ruleId === 'KURA012').length, 1);
    if (existsSync(SARIF_SCHEMA)) {
      const validate = sarifValidator();
      const doc = JSON.parse((await kura('lint', '--format', 'sarif', `${host}/lint/app:latest`)).stdout) as {
        runs: { results: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[];
      };
      assert.equal(validate(doc), true, `a registry location's SARIF: ${JSON.stringify(validate.errors)}`);
      assert.ok(
        doc.runs[0]!.results.some(
          (x) =>
            x.locations[0]!.physicalLocation.artifactLocation.uri === `${host.replace(':', '%3A')}/lint/app%3Alatest`,
        ),
      );
    }
    await repo.write('1.0.0', await new OciLayout(join(work, 'caches')).get('v1'));
    assert.equal((await findings(`${host}/lint/app:latest`)).filter((f) => f.ruleId === 'KURA012').length, 0);
  },
);
