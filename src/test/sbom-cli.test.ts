import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import { hasTool, startKura, type KuraProcess } from './kura-process.js';
import { kuraFailsRunner, kuraRunner } from './helpers.js';
import { putBlob, tagIndex, writeLayoutImage, type LayerSpec } from './sbom-fixtures.js';
import { tempDir } from './tempdirs.js';

const dir = tempDir('kura-sbom-cli-');
const kura = kuraRunner({ cwd: dir, env: { ...process.env, CI: '1' } });
const kuraFails = kuraFailsRunner({ cwd: dir, env: { ...process.env, CI: '1' } });

/** An Alpine installed database in apk's own format (records as Alpine 3.19 writes them). */
const APK_DB = `C:Q1n9tn6+kv4t+7Ps0bNvKiTpGsHYk=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
R:libc.musl-x86_64.so.1

P:libcrypto3
V:3.1.4-r5
A:x86_64
I:4698112
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
F:lib
R:libcrypto.so.3

P:busybox
V:1:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1
F:bin
R:busybox
`;
const OS = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n';
const EXPECTED_APK = [
  'pkg:apk/alpine/busybox@1:1.36.1-r15?arch=x86_64&distro=alpine-3.19.1',
  'pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl',
  'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1',
];

/** A Go binary built here (Debian's golang-go) with a vendored dependency, so its build info lists a module. */
function goBinary(): { bin: Buffer; truth: string[] } | undefined {
  if (!hasTool('go')) return undefined;
  const src = join(dir, 'gosrc');
  mkdirSync(join(src, 'vendor', 'example.com', 'greet'), { recursive: true });
  writeFileSync(join(src, 'go.mod'), 'module example.com/hello\n\ngo 1.19\n\nrequire example.com/greet v1.4.2\n');
  writeFileSync(
    join(src, 'main.go'),
    'package main\n\nimport "example.com/greet"\n\nfunc main() { println(greet.Hello()) }\n',
  );
  writeFileSync(
    join(src, 'vendor', 'example.com', 'greet', 'greet.go'),
    'package greet\n\nfunc Hello() string { return "hello" }\n',
  );
  writeFileSync(join(src, 'vendor', 'modules.txt'), '# example.com/greet v1.4.2\n## explicit\nexample.com/greet\n');
  const env = {
    ...process.env,
    GOFLAGS: '-mod=vendor',
    GOPROXY: 'off',
    GOCACHE: join(dir, 'gocache'),
    GOPATH: join(dir, 'gopath'),
    CGO_ENABLED: '0',
  };
  execFileSync('go', ['build', '-trimpath', '-o', join(dir, 'hello')], { cwd: src, env });
  // Ground truth from Go itself.
  const lines = execFileSync('go', ['version', '-m', join(dir, 'hello')], { encoding: 'utf8', env }).split('\n');
  const truth = lines
    .map((l) => l.trim().split('\t'))
    .filter((f) => f[0] === 'mod' || f[0] === 'dep')
    .map((f) => `${f[1]}@${f[2]}`);
  return { bin: readFileSync(join(dir, 'hello')), truth };
}

const layout = join(dir, 'layout');
let go: ReturnType<typeof goBinary>;
let kuraServer: KuraProcess;
let dist: Distribution | undefined;
before(async () => {
  go = goBinary();
  const base: LayerSpec = {
    'etc/os-release': OS,
    'lib/apk/db/installed': APK_DB.split('\n\n').slice(0, 2).join('\n\n') + '\n',
  };
  const top: LayerSpec = {
    'lib/apk/db/installed': APK_DB,
    ...(go ? { 'usr/local/bin/hello': { mode: 0o755, data: go.bin } } : {}),
  };
  await writeLayoutImage(layout, 'v1', [base, top]);
  kuraServer = await startKura();
  if (!distributionMissing()) dist = await startDistribution();
});
after(async () => {
  await kuraServer?.stop();
  await dist?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test(
  'purls: apk packages with epoch, origin as upstream and the distro qualifier; Go modules as go version -m ' +
    'lists them',
  async () => {
    const { stdout } = await kura('sbom', `oci:${layout}:v1`, '--format', 'purls');
    const lines = stdout.trim().split('\n');
    assert.deepEqual(
      lines.filter((l) => l.startsWith('pkg:apk/')),
      EXPECTED_APK,
    );
    if (go) {
      assert.deepEqual(go.truth, ['example.com/hello@(devel)', 'example.com/greet@v1.4.2']);
      assert.deepEqual(lines.filter((l) => l.startsWith('pkg:golang/')).sort(), [
        'pkg:golang/example.com/greet@v1.4.2',
        'pkg:golang/example.com/hello',
      ]);
    }
  },
);

test('from a docker-archive and the local store: the same packages', async () => {
  const want = (await kura('sbom', `oci:${layout}:v1`, '--format', 'purls')).stdout;
  await kura('copy', '-q', `oci:${layout}:v1`, `docker-archive:${join(dir, 'app.tar')}:sbom/app:v1`);
  assert.equal((await kura('sbom', `docker-archive:${join(dir, 'app.tar')}`, '--format', 'purls')).stdout, want);
  await kura('copy', '-q', `oci:${layout}:v1`, 'local:sbom/app:v1', '--store', join(dir, 'store'));
  assert.equal((await kura('sbom', 'sbom/app:v1', '--store', join(dir, 'store'), '--format', 'purls')).stdout, want);
});

test('table: name, version, type and the layer that added each package', async () => {
  const { stdout } = await kura('sbom', `oci:${layout}:v1`);
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s{3,}/));
  assert.deepEqual(rows[0], ['NAME', 'VERSION', 'TYPE', 'LAYER']);
  const row = (n: string) => rows.find((r) => r[0] === n)!;
  assert.match(row('musl')[3]!, /^0 [0-9a-f]{12}$/);
  assert.match(row('busybox')[3]!, /^1 [0-9a-f]{12}$/);
  assert.equal(row('busybox')[1], '1:1.36.1-r15');
});

test('-o FORMAT=FILE is repeatable and writes whole files; -o FILE takes --format', async () => {
  await kura(
    'sbom',
    `oci:${layout}:v1`,
    '-o',
    'spdx-json=a.spdx.json',
    '-o',
    'cyclonedx-json@1.5=b.cdx.json',
    '-o',
    'cyclonedx-json=c.cdx.json',
  );
  assert.equal(JSON.parse(readFileSync(join(dir, 'a.spdx.json'), 'utf8')).spdxVersion, 'SPDX-2.3');
  assert.equal(JSON.parse(readFileSync(join(dir, 'b.cdx.json'), 'utf8')).specVersion, '1.5');
  assert.equal(JSON.parse(readFileSync(join(dir, 'c.cdx.json'), 'utf8')).specVersion, '1.6');
  await kura('sbom', `oci:${layout}:v1`, '--format', 'purls', '-o', 'p.txt');
  assert.match(readFileSync(join(dir, 'p.txt'), 'utf8'), /^pkg:apk\/alpine\/busybox@/);
});

test('bad input: one kura: error line that names the fix, non-zero exit, no file left behind', async () => {
  let r = await kuraFails('sbom', `oci:${layout}:v1`, '--format', 'xml');
  assert.match(r.stderr, /^kura: error: --format xml is not known; use one of spdx-json, cyclonedx-json/);
  assert.equal(r.code, 2, 'a usage error exits 2, as those of commander do');
  r = await kuraFails('sbom', `oci:${layout}:v1`, '-o', 'cyclonedx-xml=x.xml');
  assert.match(r.stderr, /^kura: error: -o cyclonedx-xml=x.xml: unknown format "cyclonedx-xml"/);
  r = await kuraFails('sbom', `oci:${layout}:v1`, '-o', `spdx-json=${join(dir, 'no', 'such', 'dir.json')}`);
  assert.match(r.stderr, /^kura: error: cannot write .*dir\.json: ENOENT\n$/);
  r = await kuraFails('sbom', `oci:${layout}:v1`, '--attach', '--format', 'table');
  assert.match(r.stderr, /^kura: error: --attach pushes spdx-json or cyclonedx-json/);
  r = await kuraFails('sbom', '--from-registry', `oci:${layout}:v1`, '--format', 'spdx-json');
  assert.match(
    r.stderr,
    /^kura: error: .*no application\/spdx\+json SBOM is attached to sha256:[0-9a-f]{64}; make one with "kura sbom --attach"\n$/,
  );
});

for (const reg of [
  { name: 'kura serve (referrers API)', host: () => kuraServer.host, skip: () => undefined },
  { name: 'Distribution 2.8.2 (tag schema)', host: () => dist?.host ?? '', skip: distributionMissing },
]) {
  describe(`--attach and --from-registry against ${reg.name}`, () => {
    test(
      'the attached SBOM is a referrer with subject and artifactType; --from-registry returns it byte for byte',
      { skip: reg.skip() },
      async () => {
        const host = reg.host();
        const ref = `docker://${host}/sbom/app:v1`;
        await kura('copy', '-q', `oci:${layout}:v1`, ref);
        const { stdout: spdx } = await kura('sbom', ref, '--format', 'spdx-json', '--attach');
        const { stdout: cdx } = await kura('sbom', ref, '--format', 'cyclonedx-json', '--attach');
        const digest = (await kura('digest', ref)).stdout.trim();
        const referrers = reg.name.startsWith('kura')
          ? await fetch(`http://${host}/v2/sbom/app/referrers/${digest}`).then(
              (r) => r.json() as Promise<{ manifests: { artifactType: string }[] }>,
            )
          : await fetch(`http://${host}/v2/sbom/app/manifests/sha256-${digest.slice(7)}`, {
              headers: { accept: 'application/vnd.oci.image.index.v1+json' },
            }).then((r) => r.json() as Promise<{ manifests: { artifactType: string }[] }>);
        assert.deepEqual(referrers.manifests.map((m) => m.artifactType).sort(), [
          'application/spdx+json',
          'application/vnd.cyclonedx+json',
        ]);
        assert.equal((await kura('sbom', '--from-registry', ref, '--format', 'spdx-json')).stdout, spdx);
        assert.equal((await kura('sbom', '--from-registry', ref, '--format', 'cyclonedx-json')).stdout, cdx);
        // The SBOM travels with the image: copy to an OCI layout, and it is still there.
        const copy = join(dir, `copy-${reg.name.split(' ')[0]}`);
        await kura('copy', '-q', ref, `oci:${copy}:v1`);
        assert.equal((await kura('sbom', '--from-registry', `oci:${copy}:v1`, '--format', 'spdx-json')).stdout, spdx);
      },
    );
  });
}

test('--attach into an OCI layout: an untagged referrer entry that --from-registry finds', async () => {
  const copy = join(dir, 'attach-layout');
  await kura('copy', '-q', `oci:${layout}:v1`, `oci:${copy}:v1`);
  const { stdout } = await kura('sbom', `oci:${copy}:v1`, '--format', 'cyclonedx-json@1.5', '--attach');
  const entries = (
    JSON.parse(readFileSync(join(copy, 'index.json'), 'utf8')) as { manifests: { annotations?: object }[] }
  ).manifests;
  assert.equal(entries.filter((e) => !e.annotations).length, 1);
  assert.equal((await kura('sbom', '--from-registry', `oci:${copy}:v1`, '--format', 'cyclonedx-json')).stdout, stdout);
});

test(
  'the Distribution copy of an attached image keeps its SBOM (kura serve → Distribution)',
  { skip: distributionMissing() },
  async () => {
    const src = `docker://${kuraServer.host}/sbom/app:v1`;
    const dst = `docker://${dist!.host}/mirror/app:v1`;
    assert.ok(existsSync(layout));
    const { stdout: spdx } = await kura('sbom', '--from-registry', src, '--format', 'spdx-json');
    await kura('copy', '-q', src, dst);
    assert.equal((await kura('sbom', '--from-registry', dst, '--format', 'spdx-json')).stdout, spdx);
  },
);

describe('an index: --platform, --all-platforms, BuildKit SBOM attestations, damaged databases', () => {
  const idxLayout = join(dir, 'index');
  let amd64: string;
  let arm64: string;
  const buildkitSpdx = { spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'made-by-buildkit', packages: [] };
  before(async () => {
    amd64 = await writeLayoutImage(idxLayout, 'amd64', [{ 'etc/os-release': OS, 'lib/apk/db/installed': APK_DB }]);
    // The arm64 image's apk database is damaged (binary junk); its npm package.json is not JSON.
    arm64 = await writeLayoutImage(
      idxLayout,
      'arm64',
      [
        {
          'etc/os-release': OS,
          'lib/apk/db/installed': Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 10, 0x50]),
          'app/node_modules/x/package.json': '{"name": "x", ',
        },
      ],
      'arm64',
    );
    const m = (tag: string) =>
      JSON.parse(readFileSync(join(idxLayout, 'index.json'), 'utf8')).manifests.find(
        (e: { annotations: Record<string, string> }) => e.annotations['org.opencontainers.image.ref.name'] === tag,
      ) as { digest: string; size: number };
    // BuildKit's attestation manifest for the amd64 image: an in-toto statement with an SPDX predicate.
    const stmt = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://spdx.dev/Document',
        subject: [{ name: 'x', digest: { sha256: amd64.slice(7) } }],
        predicate: buildkitSpdx,
      }),
    );
    const layer = putBlob(idxLayout, 'application/vnd.in-toto+json', stmt, {
      annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' },
    });
    const cfg = putBlob(
      idxLayout,
      'application/vnd.oci.image.config.v1+json',
      Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', rootfs: { type: 'layers', diff_ids: [] } })),
    );
    const att = putBlob(
      idxLayout,
      'application/vnd.oci.image.manifest.v1+json',
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: cfg,
          layers: [layer],
        }),
      ),
    );
    tagIndex(idxLayout, 'v1', [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: amd64,
        size: m('amd64').size,
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: arm64,
        size: m('arm64').size,
        platform: { os: 'linux', architecture: 'arm64' },
      },
      {
        ...att,
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd64 },
      },
    ]);
  });

  test(
    '--platform picks one image; a damaged database is a warning naming file and layer, and the rest is still ' +
      'produced',
    async () => {
      const { stdout, stderr } = await kura(
        'sbom',
        `oci:${idxLayout}:v1`,
        '--platform',
        'linux/arm64',
        '--format',
        'spdx-json',
      );
      assert.match(stderr, /^kura: warning: \/lib\/apk\/db\/installed in layer 0 holds no readable package records$/m);
      assert.match(
        stderr,
        /^kura: warning: \/app\/node_modules\/x\/package\.json in layer 0 is not valid JSON; skipped$/m,
      );
      const doc = JSON.parse(stdout) as { packages: { versionInfo: string }[] };
      assert.deepEqual(
        doc.packages.map((p) => p.versionInfo),
        [arm64],
      );
    },
  );

  test('--all-platforms writes one SBOM per image, FILE gaining the platform', async () => {
    await kura('sbom', `oci:${idxLayout}:v1`, '--all-platforms', '-o', 'purls=all.txt');
    assert.deepEqual(readFileSync(join(dir, 'all.linux-amd64.txt'), 'utf8').trim().split('\n'), EXPECTED_APK);
    assert.equal(readFileSync(join(dir, 'all.linux-arm64.txt'), 'utf8'), '');
    assert.ok(!existsSync(join(dir, 'all.txt')));
  });

  test("--from-registry reads BuildKit's SBOM attestation of the image from its index", async () => {
    const { stdout } = await kura(
      'sbom',
      '--from-registry',
      `oci:${idxLayout}:v1`,
      '--platform',
      'linux/amd64',
      '--format',
      'spdx-json',
    );
    assert.deepEqual(JSON.parse(stdout), buildkitSpdx);
  });
});
