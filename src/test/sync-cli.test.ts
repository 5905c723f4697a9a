/**
 * `kura sync` against real registries: Distribution 2.8.2 and `kura serve` as sources and destinations,
 * and real `skopeo sync` run on the same YAML file for comparison.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient } from '../transports/registry/index.js';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import { hasTool, loadTestImages, makeTestImages, startKura, type KuraProcess } from './kura-process.js';
import { tempDir } from './tempdirs.js';
import { runKura, runTool } from './helpers.js';

const dir = tempDir('kura-sync-');
const env = { ...process.env, CI: '1', KURA_PASSWORD: 'pw' };
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs a command and resolves with its exit code and output, whatever the code. */
const sh = (cmd: string, args: string[]): Promise<Ran> => runTool(cmd, args, { env, cwd: dir });
const kura = (...args: string[]) => runKura(args, { env, cwd: dir });
const kuraOk = async (...args: string[]) => {
  const r = await kura(...args);
  assert.equal(r.code, 0, `kura ${args.join(' ')}: ${r.stderr}`);
  return r;
};
const missing =
  distributionMissing() ?? (hasTool('skopeo') ? undefined : 'skopeo is not installed (apt-get install skopeo)');

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(',');

/** The digest a tag or digest names in a registry, or undefined when it names nothing. */
async function digestOf(host: string, repo: string, ref: string): Promise<string | undefined> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { accept: ACCEPT },
  });
  return res.status === 200 ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
}
async function catalog(host: string): Promise<string[]> {
  return ((await (await fetch(`http://${host}/v2/_catalog`)).json()) as { repositories: string[] }).repositories.sort();
}
async function tags(host: string, repo: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  return (((await res.json()) as { tags: string[] | null }).tags ?? []).sort();
}
/** Every repository under `prefix/` with each tag's digest: what a destination holds, to compare field by field. */
async function holdings(host: string, prefix: string): Promise<Record<string, Record<string, string | undefined>>> {
  const out: Record<string, Record<string, string | undefined>> = {};
  for (const repo of (await catalog(host)).filter((r) => r.startsWith(`${prefix}/`))) {
    const name = repo.slice(prefix.length + 1);
    out[name] = {};
    for (const t of await tags(host, repo)) out[name][t] = await digestOf(host, repo, t);
  }
  return out;
}

let dist: Distribution;
let src: KuraProcess;
let dst: KuraProcess;
let skopeoDst: KuraProcess;
const digests: Record<string, string> = {};
before(async () => {
  if (missing) return;
  const images = await loadTestImages(await makeTestImages());
  [dist, src, dst, skopeoDst] = await Promise.all([startDistribution(), startKura(), startKura(), startKura()]);
  const put: [string, string, string][] = [
    ['ns/tiny', 'latest', 'tiny'],
    ['ns/tiny', 'v1.0.0', 'tiny'],
    ['ns/tiny', '0.9', 'layers'],
    ['ns/tiny', '1.2', 'layers'],
    ['ns/tiny', 'beta', 'layers'],
    ['ns/multi', 'latest', 'multiarch'],
    ['deep/path/app', 'v1', 'layers'],
    ['deep/path/app', 'v2', 'tiny'],
  ];
  for (const host of [dist.host, src.host]) {
    const client = new RegistryClient({ registry: host });
    for (const [repo, tag, name] of put) {
      const img = images.get(name)!;
      const d = await client.repository(repo).write(tag, await new OciLayout(img.layout).get(img.tag));
      digests[name] = d.digest;
    }
  }
});
after(async () => {
  await Promise.all([dist?.stop(), src?.stop(), dst?.stop(), skopeoDst?.stop()]);
});

test(
  'kura sync --src yaml agrees with skopeo sync --src yaml: the same repositories, tags and digests',
  { skip: missing },
  async () => {
    const yaml = join(dir, 'same.yml');
    writeFileSync(
      yaml,
      `${dist.host}:\n  tls-verify: false\n  images:\n    ns/multi: []\n    deep/path/app: [v1, "${digests.tiny}"]\n` +
        `  images-by-tag-regex:\n    ns/tiny: ^v|^0\\.\n`,
    );
    const sk = await sh('skopeo', [
      'sync',
      '--src',
      'yaml',
      '--dest',
      'docker',
      '--dest-tls-verify=false',
      yaml,
      `${skopeoDst.host}/mirror`,
    ]);
    assert.equal(sk.code, 0, sk.stderr);
    const k = await kuraOk('sync', '--src', 'yaml', '--dest', 'docker', yaml, `${dst.host}/mirror`);
    assert.match(k.stdout, /^5 copied, 0 unchanged, 0 failed$/m);
    const theirs = await holdings(skopeoDst.host, 'mirror');
    const ours = await holdings(dst.host, 'mirror');
    assert.deepEqual(Object.keys(ours).sort(), ['app', 'multi', 'tiny']);
    assert.deepEqual(ours, theirs);
    assert.deepEqual(Object.keys(ours.tiny!).sort(), ['0.9', 'v1.0.0']);
    assert.notEqual(ours.multi!.latest, digests.multiarch, "without --all only this machine's platform, as skopeo");
    // The digest entry: stored by digest, untagged, on both sides.
    assert.equal(await digestOf(dst.host, 'mirror/app', digests.tiny!), digests.tiny);
    assert.equal(await digestOf(skopeoDst.host, 'mirror/app', digests.tiny!), digests.tiny);
  },
);

test(
  '--src docker with a repository syncs every tag; a re-run copies nothing; --json has one event per image',
  { skip: missing },
  async () => {
    const args = [
      'sync',
      '--src',
      'docker',
      '--dest',
      'docker',
      '--all',
      '--json',
      `${src.host}/ns/tiny`,
      `${dist.host}/copy`,
    ];
    const first = (await kuraOk(...args)).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(first.at(-1), { event: 'result', copied: 5, unchanged: 0, failed: 0, skipped: 0 });
    assert.deepEqual(
      first
        .slice(0, -1)
        .map((e) => e.destination)
        .sort(),
      ['0.9', '1.2', 'beta', 'latest', 'v1.0.0'].map((t) => `${dist.host}/copy/tiny:${t}`),
    );
    assert.deepEqual(await tags(dist.host, 'copy/tiny'), ['0.9', '1.2', 'beta', 'latest', 'v1.0.0']);
    assert.equal(await digestOf(dist.host, 'copy/tiny', 'beta'), digests.layers);
    const again = (await kuraOk(...args)).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(again.at(-1), { event: 'result', copied: 0, unchanged: 5, failed: 0, skipped: 0 });
    assert.ok(again.slice(0, -1).every((e) => e.status === 'unchanged'));
    // --all keeps the whole index, by its own digest.
    await kuraOk(
      'sync',
      '--src',
      'docker',
      '--dest',
      'docker',
      '-a',
      `${src.host}/ns/multi:latest`,
      `${dist.host}/copy`,
    );
    assert.equal(await digestOf(dist.host, 'copy/multi', 'latest'), digests.multiarch);
  },
);

test('--dry-run says what would be copied and writes nothing', { skip: missing }, async () => {
  const r = await kuraOk(
    'sync',
    '--src',
    'docker',
    '--dest',
    'docker',
    '--dry-run',
    `${src.host}/deep/path/app`,
    `${dst.host}/dry`,
  );
  assert.match(
    r.stdout,
    new RegExp(`^would copy ${src.host}/deep/path/app:v1 -> ${dst.host}/dry/app:v1 ${digests.layers}$`, 'm'),
  );
  assert.match(r.stdout, /^dry run: 2 would be copied, 0 unchanged, 0 failed$/m);
  assert.ok(!(await catalog(dst.host)).some((x) => x.startsWith('dry/')), 'nothing written');
});

test('a missing image fails the sync: at once, or with --keep-going after the others', { skip: missing }, async () => {
  const yaml = join(dir, 'missing.yml');
  writeFileSync(yaml, `${src.host}:\n  images:\n    ns/tiny: [nope, latest]\n`);
  const stop = await kura('sync', '--src', 'yaml', '--dest', 'docker', '--parallel', '1', yaml, `${dst.host}/stop`);
  assert.equal(stop.code, 1);
  assert.match(stop.stdout, /^0 copied, 0 unchanged, 1 failed, 1 not tried$/m);
  assert.match(stop.stderr, new RegExp(`^kura: failed: ${src.host}/ns/tiny:nope: `, 'm'));
  assert.match(stop.stderr, /^kura: error: 1 of 2 image\(s\) failed to sync \(listed above\); add --keep-going/m);
  assert.equal(await digestOf(dst.host, 'stop/tiny', 'latest'), undefined, 'no image started after the failure');
  const go = await kura(
    'sync',
    '--src',
    'yaml',
    '--dest',
    'docker',
    '--keep-going',
    '--retry-times',
    '1',
    yaml,
    `${dst.host}/go`,
  );
  assert.equal(go.code, 1);
  assert.match(go.stdout, /^1 copied, 0 unchanged, 1 failed$/m);
  assert.equal(go.stderr.match(/^kura: error: /gm)?.length, 1, go.stderr);
  assert.equal(await digestOf(dst.host, 'go/tiny', 'latest'), digests.tiny);
});

test(
  'signatures and referrers travel with the images they are attached to (not with --remove-signatures)',
  { skip: missing },
  async () => {
    await kuraOk('key', 'generate');
    const image = `${src.host}/signed/app:v1`;
    await kuraOk('copy', '-q', `docker://${src.host}/ns/tiny:1.2`, `docker://${image}`);
    await kuraOk('sign', '--key', join(dir, 'cosign.key'), image);
    const sbom = join(dir, 'sbom.json');
    writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
    await kuraOk(
      'attest',
      '--key',
      join(dir, 'cosign.key'),
      '--predicate',
      sbom,
      '--type',
      'spdx',
      '--referrers',
      image,
    );
    const r = await kuraOk(
      'sync',
      '--src',
      'docker',
      '--dest',
      'docker',
      `${src.host}/signed/app`,
      `${dst.host}/signed`,
    );
    assert.match(r.stdout, /^copied .* \(\+2 attached\)$/m);
    assert.match(r.stdout, /^1 copied, 0 unchanged, 0 failed$/m, 'the .sig tag is not synced as an image of its own');
    await kuraOk('verify', '--key', join(dir, 'cosign.pub'), `${dst.host}/signed/app:v1`);
    const kinds = (tree: string) => [...tree.matchAll(/"kind":\s*"(\w+)"/g)].map((m) => m[1]).sort();
    const there = (await kuraOk('tree', '--json', `${dst.host}/signed/app:v1`)).stdout;
    assert.deepEqual(kinds(there), kinds((await kuraOk('tree', '--json', image)).stdout));
    assert.deepEqual(kinds(there), ['attestation', 'image', 'signature']);
    await kuraOk(
      'sync',
      '--src',
      'docker',
      '--dest',
      'docker',
      '--remove-signatures',
      `${src.host}/signed/app`,
      `${dst.host}/bare`,
    );
    assert.deepEqual(kinds((await kuraOk('tree', '--json', `${dst.host}/bare/app:v1`)).stdout), ['image']);
  },
);

test(
  '--scoped keeps the source path: a directory of OCI layouts; a registry with a port refused as skopeo does',
  { skip: missing },
  async () => {
    const out = tempDir('kura-sync-oci-');
    await kuraOk('sync', '--src', 'docker', '--dest', 'oci', '--scoped', '--all', `${src.host}/ns/multi`, out);
    const layout = join(out, src.host, 'ns', 'multi');
    assert.equal((await new OciLayout(layout).get('latest')).descriptor.digest, digests.multiarch);
    const again = await kuraOk(
      'sync',
      '--src',
      'docker',
      '--dest',
      'oci',
      '--scoped',
      '--all',
      `${src.host}/ns/multi`,
      out,
    );
    assert.match(again.stdout, /^0 copied, 1 unchanged, 0 failed$/m);
    const refused = await kura(
      'sync',
      '--src',
      'docker',
      '--dest',
      'docker',
      '--scoped',
      `${src.host}/ns/tiny:latest`,
      `${dst.host}/sc`,
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^kura: error: .* not a valid image name \(--scoped cannot keep a registry name with a port\)/m,
    );
    const sk = await sh('skopeo', [
      'sync',
      '--src',
      'docker',
      '--dest',
      'docker',
      '--scoped',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `${src.host}/ns/tiny:latest`,
      `${dst.host}/sc`,
    ]);
    assert.notEqual(sk.code, 0, 'skopeo refuses it too');
    assert.match(sk.stderr, /invalid reference format/);
  },
);

test('bad command lines are one error line naming the fix', { skip: missing }, async () => {
  const cases: [string[], RegExp][] = [
    [['sync', '--dest', 'docker', 'a/b', 'c/d'], /^kura: error: --src takes docker or yaml, not nothing/],
    [['sync', '--src', 'docker', '--dest', 'dir', 'a/b', 'c'], /^kura: error: --dest takes docker or oci .*not "dir"/],
    [
      ['sync', '--src', 'yaml', '--dest', 'docker', join(dir, 'none.yml'), 'c/d'],
      /^kura: error: cannot read the YAML file .*ENOENT/,
    ],
    [
      ['sync', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=maybe', 'a/b', 'c/d'],
      /--src-tls-verify takes true or false/,
    ],
    [
      ['sync', '--src', 'docker', '--dest', 'docker', '--src-creds', 'nopassword', 'a/b', 'c/d'],
      /--src-creds takes USER:PASSWORD/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await kura(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test(
  "credentials: a YAML entry's for its source registry, --dest-creds for the destination",
  { skip: missing },
  async () => {
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
    const locked = await startDistribution({ htpasswd });
    try {
      const alice = { username: 'alice', password: 'alice-pw' };
      const img = (await loadTestImages(await makeTestImages())).get('tiny')!;
      await new RegistryClient({ registry: locked.host, credentials: alice })
        .repository('team/app')
        .write('v1', await new OciLayout(img.layout).get(img.tag));
      const yaml = (creds: string) => {
        const file = join(dir, `locked${creds ? '-creds' : ''}.yml`);
        writeFileSync(file, `${locked.host}:\n${creds}  images:\n    team/app: [v1]\n`);
        return file;
      };
      const withCreds = yaml('  credentials: {username: alice, password: alice-pw}\n');
      await kuraOk('sync', '--src', 'yaml', '--dest', 'docker', withCreds, `${dst.host}/fromlocked`);
      assert.equal(await digestOf(dst.host, 'fromlocked/app', 'v1'), digests.tiny);
      const without = await kura('sync', '--src', 'yaml', '--dest', 'docker', yaml(''), `${dst.host}/nocreds`);
      assert.equal(without.code, 1, 'the source asks for credentials');
      assert.match(without.stderr, /^kura: failed: .*team\/app:v1: .*(unauthorized|credentials|401)/im);
      const to = `${locked.host}/pushed`;
      const refused = await kura('sync', '--src', 'docker', '--dest', 'docker', `${src.host}/ns/tiny:latest`, to);
      assert.equal(refused.code, 1);
      await kuraOk(
        'sync',
        '--src',
        'docker',
        '--dest',
        'docker',
        '--dest-creds',
        'alice:alice-pw',
        `${src.host}/ns/tiny:latest`,
        to,
      );
      const head = await new RegistryClient({ registry: locked.host, credentials: alice })
        .repository('pushed/tiny')
        .head('latest');
      assert.equal(head.descriptor.digest, digests.tiny);
    } finally {
      await locked.stop();
    }
  },
);
