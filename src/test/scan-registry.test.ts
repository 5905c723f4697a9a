// Scan on push in a real `kura serve`: images pushed by `kura copy`, an advisory database written by `kura db import`,
// results re-matched after a new import, the admin report, the scan pull policy, unscanned images and a restart.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';
import { writeLayoutImage } from './sbom-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kura-scan-registry-'));
const kura = (...args: string[]) =>
  run(process.execPath, [KURA_MAIN, ...args], { cwd: dir, maxBuffer: 16 << 20, env: { ...process.env, CI: '1' } });
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
const image = join(dir, 'deb');
const dbDir = join(dir, 'db');
const servers: KuraProcess[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** An OSV record shaped like Debian's: a source package of Debian 12, fixed or not, with Debian's urgency. */
function debianRecord(id: string, name: string, urgency: string, fixed?: string): string {
  const events = [{ introduced: '0' }, ...(fixed ? [{ fixed }] : [])];
  return JSON.stringify({
    id,
    modified: '2024-03-01T00:00:00Z',
    affected: [
      {
        package: { ecosystem: 'Debian:12', name },
        ranges: [{ type: 'ECOSYSTEM', events }],
        ecosystem_specific: { urgency },
      },
    ],
  });
}
async function importRecord(name: string, text: string): Promise<void> {
  writeFileSync(join(dir, name), text);
  await kura('db', 'import', '--db-dir', dbDir, join(dir, name));
}

function config(name: string, db: string, policy: string[]): string {
  const file = join(dir, name);
  const lines = ['scan:', '  onPush: true', '  concurrency: 2', `  db: ${db}`, '  recheck: 100ms', '  policy:'];
  writeFileSync(file, [...lines, ...policy, ''].join('\n'));
  return file;
}

async function start(cfg: string, dataDir?: string): Promise<KuraProcess> {
  const s = await startKura({ args: ['--config', cfg], ...(dataDir ? { dataDir } : {}) });
  servers.push(s);
  return s;
}
const push = (s: KuraProcess, to: string) => kura('copy', '-q', `oci:${image}:v1`, `docker://${s.host}/${to}`);
async function manifest(s: KuraProcess, repo: string, ref: string, method = 'GET') {
  const res = await fetch(`${s.url}/v2/${repo}/manifests/${ref}`, { method, headers: { accept: ACCEPT } });
  return { status: res.status, body: await res.text(), digest: res.headers.get('docker-content-digest') };
}
async function report(s: KuraProcess, repo: string, digest: string) {
  const res = await fetch(`${s.url}/admin/v1/scans/${repo}/${digest}`);
  return { status: res.status, doc: JSON.parse(await res.text()) as Record<string, unknown> };
}
type Findings = { id: string; pkg: { name: string }; severity: { level: string } }[];
/** Polls the admin report until `ok` holds (scans run in the background). */
async function waitReport(s: KuraProcess, repo: string, digest: string, ok: (d: Record<string, unknown>) => boolean) {
  const until = Date.now() + 20_000;
  for (;;) {
    const r = await report(s, repo, digest);
    if (r.status === 200 && ok(r.doc)) return r.doc;
    if (Date.now() > until) assert.fail(`no such report in time: ${JSON.stringify(r)}\n${s.logs().stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
const ids = (doc: Record<string, unknown>) =>
  (doc.findings as Findings).map((f) => `${f.pkg.name} ${f.id} ${f.severity.level}`).sort();

before(async () => {
  // A Debian 12 image: libssl3 from source openssl, bash from itself.
  const status = [
    'Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nSource: openssl\nArchitecture: amd64\n',
    'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n',
  ].join('\n');
  await writeLayoutImage(image, 'v1', [
    { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n', 'var/lib/dpkg/status': status },
  ]);
  await importRecord('bash.json', debianRecord('DEBIAN-CVE-2022-3715', 'bash', 'medium'));
});

test('scan on push, re-matching after a new import, the admin report and the severity policy', async () => {
  const s = await start(
    config('kura.yaml', join(dbDir, 'osv.sqlite'), ['    - repositories: ["prod/**"]', '      blockSeverity: HIGH']),
  );
  await push(s, 'prod/app:v1');
  await push(s, 'dev/app:v1');
  const { digest } = await manifest(s, 'dev/app', 'v1');
  assert.ok(digest);
  const first = await waitReport(s, 'prod/app', digest, (d) => d.state === 'done');
  assert.deepEqual(ids(first), ['bash DEBIAN-CVE-2022-3715 MEDIUM']);
  assert.deepEqual(first.summary, { CRITICAL: 0, HIGH: 0, MEDIUM: 1, LOW: 0, UNKNOWN: 0 });
  assert.equal((first.target as { digest: string }).digest, digest);
  // Under HIGH: served.
  assert.equal((await manifest(s, 'prod/app', 'v1')).status, 200);

  // A new advisory for openssl (libssl3's source): the stored packages are matched again, no push needed.
  await importRecord('openssl.json', debianRecord('DSA-5600-1', 'openssl', 'high', '3.0.13-1~deb12u1'));
  const second = await waitReport(s, 'prod/app', digest, (d) => (d.findings as Findings).length === 2);
  assert.deepEqual(ids(second), ['bash DEBIAN-CVE-2022-3715 MEDIUM', 'libssl3 DSA-5600-1 HIGH']);
  assert.notEqual(second.generation, first.generation);

  // Now refused in prod/** (GET and HEAD, by tag and digest), naming the count and where to see them.
  for (const [ref, method] of [
    ['v1', 'GET'],
    [digest, 'GET'],
    ['v1', 'HEAD'],
  ] as const) {
    const r = await manifest(s, 'prod/app', ref, method);
    assert.equal(r.status, 403, r.body);
    if (method === 'HEAD') continue;
    const e = (JSON.parse(r.body) as { errors: { code: string; message: string }[] }).errors[0]!;
    assert.equal(e.code, 'DENIED');
    assert.equal(
      e.message,
      `prod/app@${digest} has 1 finding at or above HIGH (scan.policy rule prod/**); see them with ` +
        `GET /admin/v1/scans/prod/app/${digest} or kura scan prod/app@${digest}`,
    );
  }
  // No rule for dev/**: served.
  assert.equal((await manifest(s, 'dev/app', 'v1')).status, 200);
  // Not scanned / not there: 404 in the spec's error shape.
  const missing = await report(s, 'prod/app', `sha256:${'0'.repeat(64)}`);
  assert.equal(missing.status, 404);
  assert.equal((missing.doc.errors as { code: string }[])[0]!.code, 'MANIFEST_UNKNOWN');
  assert.equal((await report(s, 'nothing/here', digest)).status, 404, 'the digest is not in that repository');
});

test('unscanned images: allowed or denied per rule; killed with scans pending, a restart scans them', async () => {
  const missingDb = join(dir, 'later', 'osv.sqlite');
  const cfg = config('pending.yaml', missingDb, [
    '    - repositories: ["strict/**"]',
    '      blockSeverity: CRITICAL',
    '      onUnscanned: deny',
    '    - repositories: ["open/**"]',
    '      blockSeverity: CRITICAL',
  ]);
  const s = await start(cfg);
  // No database yet: scans stay pending.
  await push(s, 'strict/app:v1');
  await push(s, 'open/app:v1');
  const open = await manifest(s, 'open/app', 'v1');
  assert.equal(open.status, 200, 'onUnscanned defaults to allow');
  const strict = await manifest(s, 'strict/app', 'v1');
  assert.equal(strict.status, 403);
  assert.match(strict.body, /has not been scanned yet \(scan\.policy rule strict\/\*\*, onUnscanned: deny\)/);
  assert.equal((await report(s, 'strict/app', open.digest!)).status, 404);

  // Killed with the scans pending; the database arrives; the restarted server scans what was pending.
  await s.kill();
  await run('mkdir', ['-p', join(dir, 'later')]);
  await run('cp', [join(dbDir, 'osv.sqlite'), missingDb]);
  const again = await start(cfg, s.dataDir);
  const doc = await waitReport(again, 'strict/app', open.digest!, (d) => d.state === 'done');
  assert.ok(ids(doc).includes('bash DEBIAN-CVE-2022-3715 MEDIUM'));
  assert.equal((await manifest(again, 'strict/app', 'v1')).status, 200, 'scanned, nothing CRITICAL: served');
});
