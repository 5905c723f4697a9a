/**
 * Real third-party clients (skopeo, podman, buildah) against a real `kura serve`.
 *
 * Every test gets its own throw-away directory (auth file, HOME, TMPDIR, container
 * storage). The server is plain HTTP on 127.0.0.1, hence the *-tls-verify=false flags,
 * and images are always named 127.0.0.1:PORT/… (a short name would send podman to
 * docker.io). Missing tools fail the tests: CI installs them (.ci/run).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  hasTool,
  loadTestImages,
  makeTestImages,
  startKura,
  type KuraProcess,
  type TestImage,
} from './kura-process.js';
import { containerStoreFlags } from './helpers.js';
import { tempDir } from './tempdirs.js';

const execFileP = promisify(execFile);
const TEST_TIMEOUT = { timeout: 60_000 };
const CMD_TIMEOUT_MS = 50_000;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';

// ---------------------------------------------------------------------------
// running commands

interface Result {
  cmd: string;
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a command; never throws (spawn errors and timeouts become code -1). */
async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const line = [cmd, ...args].join(' ');
  try {
    const out = await execFileP(cmd, args, { env, encoding: 'buffer', timeout: CMD_TIMEOUT_MS, maxBuffer: 64 << 20 });
    return { cmd: line, code: 0, stdout: out.stdout, stderr: out.stderr.toString() };
  } catch (e) {
    const x = e as { code?: unknown; killed?: boolean; message: string; stdout?: Buffer; stderr?: Buffer };
    const code = typeof x.code === 'number' ? x.code : -1;
    const why = code === -1 ? `${x.message}${x.killed ? ' (killed: timeout)' : ''}\n` : '';
    return { cmd: line, code, stdout: x.stdout ?? Buffer.alloc(0), stderr: why + (x.stderr?.toString() ?? '') };
  }
}

let server: KuraProcess | undefined;

function serverTail(): string {
  if (!server) return '';
  const { stdout, stderr } = server.logs();
  return `\n--- kura stderr (tail) ---\n${stderr.slice(-2000)}\n--- kura stdout (tail) ---\n${stdout.slice(-3000)}`;
}

/** Asserts exit code 0 and returns stdout. */
function ok(r: Result): Buffer {
  assert.equal(r.code, 0, `command failed (exit ${r.code}): ${r.cmd}\n${r.stderr}${serverTail()}`);
  return r.stdout;
}

/** Asserts a non-zero exit code; returns stderr. */
function fails(r: Result): string {
  assert.notEqual(r.code, 0, `command unexpectedly succeeded: ${r.cmd}\n${r.stdout.toString().slice(0, 2000)}`);
  return r.stderr;
}

// ---------------------------------------------------------------------------
// per-test sandboxes

interface Sandbox {
  dir: string;
  auth: string;
  env: NodeJS.ProcessEnv;
}

const sandboxes: string[] = [];

async function sandbox(): Promise<Sandbox> {
  const dir = await tempDir('kura-clients-');
  sandboxes.push(dir);
  const auth = join(dir, 'auth.json');
  await writeFile(auth, '{"auths":{}}\n');
  for (const d of ['home', 'tmp']) await mkdir(join(dir, d));
  const env = { ...process.env, REGISTRY_AUTH_FILE: auth, HOME: join(dir, 'home'), TMPDIR: join(dir, 'tmp') };
  return { dir, auth, env };
}

async function removeSandboxes(): Promise<void> {
  for (const d of sandboxes.splice(0)) await rm(d, { recursive: true, force: true });
}

function requireTools(names: string[]): void {
  const missing = names.filter((n) => !hasTool(n));
  assert.deepEqual(missing, [], `missing tools (CI installs them: .ci/run): ${missing.join(', ')}`);
}

/** One kura server for the enclosing describe, plus the shared test images. */
function withServer(tools: string[]): { images: () => Map<string, TestImage>; host: () => string } {
  let images: Map<string, TestImage> | undefined;
  before(async () => {
    requireTools(tools);
    images = await loadTestImages(await makeTestImages());
    server = await startKura({});
  });
  after(async () => {
    const s = server;
    server = undefined;
    await removeSandboxes();
    if (!s) return;
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  });
  return { images: () => images!, host: () => server!.host };
}

// ---------------------------------------------------------------------------
// small OCI helpers

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

async function readBlob(layout: string, digest: string): Promise<Buffer> {
  return readFile(blobPath(layout, digest));
}

async function blobSet(layout: string): Promise<string[]> {
  return (await readdir(join(layout, 'blobs', 'sha256'))).sort();
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

interface Manifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

interface Index {
  mediaType?: string;
  manifests: Descriptor[];
}

/** The descriptor of `tag` in an OCI layout's index.json. */
async function layoutDescriptor(layout: string, tag: string): Promise<Descriptor> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(d, `tag ${tag} not in ${layout}/index.json`);
  return d;
}

async function readDigestFile(path: string): Promise<string> {
  const d = (await readFile(path, 'utf8')).trim();
  assert.match(d, /^sha256:[a-f0-9]{64}$/, `digest file ${path}`);
  return d;
}

function image(images: Map<string, TestImage>, name: string): TestImage {
  const img = images.get(name);
  assert.ok(img, `test image ${name} missing from images.tsv`);
  return img;
}

// ---------------------------------------------------------------------------
// skopeo wrappers

let digestFiles = 0;

function skopeo(sb: Sandbox, args: string[]): Promise<Result> {
  return run('skopeo', args, sb.env);
}

/** skopeo copy to the registry; returns the pushed manifest digest (--digestfile). */
async function push(sb: Sandbox, src: string, dest: string, extra: string[] = []): Promise<string> {
  const file = join(sb.dir, `digest-${digestFiles++}`);
  ok(
    await skopeo(sb, [
      'copy',
      '-q',
      '--authfile',
      sb.auth,
      '--dest-tls-verify=false',
      '--digestfile',
      file,
      ...extra,
      src,
      `docker://${dest}`,
    ]),
  );
  return readDigestFile(file);
}

async function pull(sb: Sandbox, src: string, dest: string, extra: string[] = []): Promise<void> {
  ok(
    await skopeo(sb, [
      'copy',
      '-q',
      '--authfile',
      sb.auth,
      '--src-tls-verify=false',
      ...extra,
      `docker://${src}`,
      dest,
    ]),
  );
}

async function inspectRaw(sb: Sandbox, ref: string, extra: string[] = []): Promise<Buffer> {
  return ok(
    await skopeo(sb, ['inspect', '--authfile', sb.auth, '--tls-verify=false', '--raw', ...extra, `docker://${ref}`]),
  );
}

async function listTags(sb: Sandbox, repo: string): Promise<{ Repository: string; Tags: string[] }> {
  const out = ok(await skopeo(sb, ['list-tags', '--authfile', sb.auth, '--tls-verify=false', `docker://${repo}`]));
  return JSON.parse(out.toString()) as { Repository: string; Tags: string[] };
}

/** Pushes with skopeo and checks the registry serves exactly the pushed manifest bytes. */
async function pushAndVerify(
  sb: Sandbox,
  src: string,
  dest: string,
  extra: string[] = [],
): Promise<{ digest: string; raw: Buffer }> {
  const digest = await push(sb, src, dest, extra);
  const raw = await inspectRaw(sb, dest);
  assert.equal(sha256(raw), digest, `GET manifest ${dest}: served bytes do not hash to the pushed digest`);
  return { digest, raw };
}

// ---------------------------------------------------------------------------

describe('skopeo against kura serve', () => {
  const ctx = withServer(['skopeo', 'umoci', 'buildah', 'jq']);

  test(
    'copy oci: → registry → oci: (skopeo compresses the layer); served and pulled digests equal the pushed one',
    TEST_TIMEOUT,
    async () => {
      const sb = await sandbox();
      const tiny = image(ctx.images(), 'tiny');
      const ref = `${ctx.host()}/skopeo/tiny:latest`;
      const { digest, raw } = await pushAndVerify(sb, tiny.ociRef, ref);
      const pushed = JSON.parse(raw.toString()) as Manifest;
      const original = JSON.parse((await readBlob(tiny.layout, tiny.digest)).toString()) as Manifest;
      assert.equal(pushed.config.digest, original.config.digest, 'config blob must be unchanged');
      assert.equal(pushed.layers.length, 1);

      const out = join(sb.dir, 'pulled');
      await pull(sb, ref, `oci:${out}:latest`, ['--preserve-digests']);
      const d = await layoutDescriptor(out, 'latest');
      assert.equal(d.digest, digest, 'pulled manifest digest');
      assert.ok((await readBlob(out, digest)).equals(raw), 'pulled manifest bytes');
      assert.ok(
        (await readBlob(out, original.config.digest)).equals(await readBlob(tiny.layout, original.config.digest)),
        'config bytes',
      );
    },
  );

  test(
    'copy --preserve-digests of an uncompressed-layer image keeps the original manifest bytes',
    TEST_TIMEOUT,
    async () => {
      const sb = await sandbox();
      const tiny = image(ctx.images(), 'tiny');
      const ref = `${ctx.host()}/skopeo/preserved:latest`;
      const { digest, raw } = await pushAndVerify(sb, tiny.ociRef, ref, ['--preserve-digests']);
      assert.equal(digest, tiny.digest);
      assert.ok(raw.equals(await readBlob(tiny.layout, tiny.digest)), 'served manifest bytes equal the original');

      const out = join(sb.dir, 'pulled');
      await pull(sb, ref, `oci:${out}:latest`, ['--preserve-digests']);
      assert.equal((await layoutDescriptor(out, 'latest')).digest, tiny.digest);
      assert.deepEqual(await blobSet(out), await blobSet(tiny.layout), 'identical blob set after the round trip');
    },
  );

  test('copy of a 4-layer image (whiteout, opaque dir) round-trips byte-exact', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const layers = image(ctx.images(), 'layers');
    const ref = `${ctx.host()}/skopeo/layers:v1`;
    const { digest, raw } = await pushAndVerify(sb, layers.ociRef, ref);
    assert.equal(digest, layers.digest, 'already-gzipped layers: skopeo pushes the manifest unchanged');
    assert.equal((JSON.parse(raw.toString()) as Manifest).layers.length, 4);

    const out = join(sb.dir, 'pulled');
    await pull(sb, ref, `oci:${out}:v1`);
    assert.equal((await layoutDescriptor(out, 'v1')).digest, layers.digest);
    assert.deepEqual(await blobSet(out), await blobSet(layers.layout));
    const unpacked = join(sb.dir, 'bundle');
    ok(await run('umoci', ['unpack', '--image', `${out}:v1`, unpacked], sb.env));
    const rootfs = join(unpacked, 'rootfs');
    assert.equal(await readFile(join(rootfs, 'etc', 'kura-release'), 'utf8'), 'release=2\n');
    assert.deepEqual((await readdir(join(rootfs, 'opq'))).sort(), ['new.txt'], 'opaque whiteout applied');
    assert.deepEqual((await readdir(join(rootfs, 'data'))).sort(), [
      'added.txt',
      'keep-link',
      'keep.txt',
      'linked-a.txt',
      'linked-b.txt',
    ]);
  });

  test('copy from docker-archive: (Docker schema 2) and pull back to dir: byte-exact', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const tiny = image(ctx.images(), 'tiny');
    assert.ok(tiny.dockerArchive, 'tiny has a docker-archive');
    const ref = `${ctx.host()}/skopeo/archive:v1`;
    const { digest, raw } = await pushAndVerify(sb, `docker-archive:${tiny.dockerArchive}`, ref);
    const pushed = JSON.parse(raw.toString()) as Manifest;
    assert.equal(pushed.mediaType, DOCKER_V2S2);
    const original = JSON.parse((await readBlob(tiny.layout, tiny.digest)).toString()) as Manifest;
    assert.equal(pushed.config.digest, original.config.digest, 'same config blob as the OCI original');

    // oci: would convert the Docker manifest; dir: stores it verbatim
    const out = join(sb.dir, 'pulled-dir');
    await pull(sb, ref, `dir:${out}`);
    const stored = await readFile(join(out, 'manifest.json'));
    assert.equal(sha256(stored), digest, 'dir: manifest.json hashes to the pushed digest');
    for (const l of pushed.layers)
      assert.equal(sha256(await readFile(join(out, l.digest.slice(7)))), l.digest, `layer ${l.digest}`);
  });

  test('inspect --raw, --config --raw and inspect', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const layers = image(ctx.images(), 'layers');
    const ref = `${ctx.host()}/skopeo/inspect:v1`;
    const { digest, raw } = await pushAndVerify(sb, layers.ociRef, ref);
    const manifest = JSON.parse(raw.toString()) as Manifest;

    const config = await inspectRaw(sb, ref, ['--config']);
    assert.equal(sha256(config), manifest.config.digest, 'config blob digest');
    assert.ok(config.equals(await readBlob(layers.layout, manifest.config.digest)), 'config bytes equal the original');

    const info = JSON.parse(
      ok(await skopeo(sb, ['inspect', '--authfile', sb.auth, '--tls-verify=false', `docker://${ref}`])).toString(),
    ) as {
      Name: string;
      Digest: string;
      RepoTags: string[];
      Architecture: string;
      Os: string;
      Layers: string[];
      Labels: Record<string, string>;
    };
    assert.equal(info.Name, `${ctx.host()}/skopeo/inspect`);
    assert.equal(info.Digest, digest);
    assert.deepEqual(info.RepoTags, ['v1']);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.equal(info.Labels['org.opencontainers.image.title'], 'kura-test-layers');
    assert.deepEqual(
      info.Layers,
      manifest.layers.map((l) => l.digest),
    );

    const byDigest = await inspectRaw(sb, `${ctx.host()}/skopeo/inspect@${digest}`);
    assert.ok(byDigest.equals(raw), 'manifest by digest equals manifest by tag');
  });

  test('list-tags returns every tag, lexically sorted', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const images = ctx.images();
    const repo = `${ctx.host()}/skopeo/tags`;
    await push(sb, image(images, 'layers').ociRef, `${repo}:v1`);
    await push(sb, image(images, 'tiny').ociRef, `${repo}:tiny`, ['--preserve-digests']);
    const more = ['latest', '1.0.0', 'alpha', 'v10', 'v2', 'release_2024.01-rc.1'];
    for (const tag of more) {
      ok(
        await skopeo(sb, [
          'copy',
          '-q',
          '--authfile',
          sb.auth,
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          `docker://${repo}:v1`,
          `docker://${repo}:${tag}`,
        ]),
      );
    }
    const list = await listTags(sb, repo);
    assert.equal(list.Repository, repo);
    const expected = ['v1', 'tiny', ...more].sort();
    assert.deepEqual([...list.Tags].sort(), expected, 'every pushed tag, nothing else');
    assert.deepEqual(list.Tags, expected, 'tags must be in lexical order (distribution-spec)');
  });

  test('delete removes the manifest: its tag and digest are gone, other tags stay', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const images = ctx.images();
    const repo = `${ctx.host()}/skopeo/delete`;
    const keep = await push(sb, image(images, 'tiny').ociRef, `${repo}:keep`, ['--preserve-digests']);
    const doomed = await push(sb, image(images, 'layers').ociRef, `${repo}:doomed`);
    assert.notEqual(keep, doomed);
    assert.deepEqual((await listTags(sb, repo)).Tags, ['doomed', 'keep']);

    ok(await skopeo(sb, ['delete', '--authfile', sb.auth, '--tls-verify=false', `docker://${repo}:doomed`]));

    const err = fails(
      await skopeo(sb, ['inspect', '--authfile', sb.auth, '--tls-verify=false', '--raw', `docker://${repo}:doomed`]),
    );
    assert.match(err, /manifest unknown/i);
    fails(
      await skopeo(sb, ['inspect', '--authfile', sb.auth, '--tls-verify=false', '--raw', `docker://${repo}@${doomed}`]),
    );
    assert.deepEqual((await listTags(sb, repo)).Tags, ['keep']);
    assert.equal(sha256(await inspectRaw(sb, `${repo}:keep`)), keep, 'the other tag is untouched');
  });

  test(
    'copy --all of a two-platform OCI index: index bytes preserved, children fetchable by digest',
    TEST_TIMEOUT,
    async () => {
      const sb = await sandbox();
      const multi = image(ctx.images(), 'multiarch');
      const repo = `${ctx.host()}/skopeo/multiarch`;
      const { digest, raw } = await pushAndVerify(sb, multi.ociRef, `${repo}:latest`, ['--all']);
      assert.equal(digest, multi.digest);
      assert.ok(raw.equals(await readBlob(multi.layout, multi.digest)), 'served index bytes equal the original');
      const index = JSON.parse(raw.toString()) as Index;
      assert.equal(index.mediaType, OCI_INDEX);
      assert.equal(index.manifests.length, 2);

      for (const child of index.manifests) {
        const body = await inspectRaw(sb, `${repo}@${child.digest}`);
        assert.ok(body.equals(await readBlob(multi.layout, child.digest)), `child ${child.digest} bytes`);
        const manifest = JSON.parse(body.toString()) as Manifest;
        const config = await inspectRaw(sb, `${repo}@${child.digest}`, ['--config']);
        assert.equal(sha256(config), manifest.config.digest, `config of ${child.platform?.architecture}`);
      }
      for (const [arch, variant] of [
        ['amd64', ''],
        ['arm64', 'v8'],
      ] as const) {
        const args = [
          '--override-os',
          'linux',
          '--override-arch',
          arch,
          ...(variant ? ['--override-variant', variant] : []),
          'inspect',
          '--authfile',
          sb.auth,
          '--tls-verify=false',
          `docker://${repo}:latest`,
        ];
        const info = JSON.parse(ok(await skopeo(sb, args)).toString()) as { Architecture: string };
        assert.equal(info.Architecture, arch, `platform resolution for ${arch}`);
      }

      const out = join(sb.dir, 'pulled');
      await pull(sb, `${repo}:latest`, `oci:${out}:latest`, ['--all', '--preserve-digests']);
      assert.equal((await layoutDescriptor(out, 'latest')).digest, multi.digest);
      assert.deepEqual(await blobSet(out), await blobSet(multi.layout), 'all 8 blobs, shared base layer once');
    },
  );

  /** Pushes two tags (two different images) into `repo`; returns tag → digest. */
  async function twoTags(sb: Sandbox, repo: string): Promise<Map<string, string>> {
    const images = ctx.images();
    return new Map([
      ['one', await push(sb, image(images, 'tiny').ociRef, `${repo}:one`, ['--preserve-digests'])],
      ['two', await push(sb, image(images, 'layers').ociRef, `${repo}:two`)],
    ]);
  }

  test('sync --src docker --dest docker copies every tag to another repository', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const src = `${ctx.host()}/skopeo/sync-src/app`;
    const digests = await twoTags(sb, src);
    ok(
      await skopeo(sb, [
        'sync',
        '--src',
        'docker',
        '--dest',
        'docker',
        '--src-authfile',
        sb.auth,
        '--dest-authfile',
        sb.auth,
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        '--preserve-digests',
        src,
        `${ctx.host()}/skopeo/mirror`,
      ]),
    );
    const dst = `${ctx.host()}/skopeo/mirror/app`; // sync keeps the last path component
    assert.deepEqual((await listTags(sb, dst)).Tags, ['one', 'two']);
    for (const [tag, digest] of digests)
      assert.equal(sha256(await inspectRaw(sb, `${dst}:${tag}`)), digest, `${dst}:${tag}`);
  });

  test('sync --src docker --dest dir pulls every tag with byte-exact manifests', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const src = `${ctx.host()}/skopeo/sync-dir/app`;
    const digests = await twoTags(sb, src);
    const out = join(sb.dir, 'mirror');
    await mkdir(out);
    ok(
      await skopeo(sb, [
        'sync',
        '--src',
        'docker',
        '--dest',
        'dir',
        '--src-authfile',
        sb.auth,
        '--src-tls-verify=false',
        '--preserve-digests',
        src,
        out,
      ]),
    );
    assert.deepEqual((await readdir(out)).sort(), ['app:one', 'app:two']);
    for (const [tag, digest] of digests)
      assert.equal(sha256(await readFile(join(out, `app:${tag}`, 'manifest.json'))), digest, tag);
  });
});

// ---------------------------------------------------------------------------

describe('podman against kura serve', () => {
  const ctx = withServer(['podman', 'skopeo', 'umoci', 'buildah', 'jq']);

  function podman(sb: Sandbox, store: string, args: string[]): Promise<Result> {
    return run('podman', [...containerStoreFlags(join(sb.dir, store), true), ...args], sb.env);
  }

  test('podman push and pull (vfs), then podman image inspect', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const tiny = image(ctx.images(), 'tiny');
    const name = `${ctx.host()}/podman/tiny`;

    // load from the OCI layout (offline) into store A, push from there
    const id = ok(await podman(sb, 'a', ['pull', '-q', tiny.ociRef]))
      .toString()
      .trim()
      .split('\n')
      .pop()!;
    assert.match(id, /^[a-f0-9]{64}$/);
    const digestFile = join(sb.dir, 'pushed.digest');
    ok(
      await podman(sb, 'a', [
        'push',
        '--authfile',
        sb.auth,
        '--tls-verify=false',
        '--digestfile',
        digestFile,
        id,
        `docker://${name}:latest`,
      ]),
    );
    const digest = await readDigestFile(digestFile);
    assert.equal(sha256(await inspectRaw(sb, `${name}:latest`)), digest, "served manifest hashes to podman's digest");

    // pull into a fresh store B
    ok(await podman(sb, 'b', ['pull', '--authfile', sb.auth, '--tls-verify=false', `${name}:latest`]));
    const [info] = JSON.parse(ok(await podman(sb, 'b', ['image', 'inspect', `${name}:latest`])).toString()) as Array<{
      Id: string;
      Digest: string;
      RepoTags: string[];
      RepoDigests: string[];
      Architecture: string;
      Config: { Labels: Record<string, string> };
    }>;
    assert.ok(info);
    assert.equal(info.Id, id, 'image ID (config digest) survives push + pull');
    assert.equal(info.Digest, digest);
    assert.ok(info.RepoTags.includes(`${name}:latest`), `RepoTags ${info.RepoTags}`);
    assert.ok(info.RepoDigests.includes(`${name}@${digest}`), `RepoDigests ${info.RepoDigests}`);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Config.Labels['org.opencontainers.image.title'], 'kura-test-tiny');

    // and by digest into a third store
    ok(await podman(sb, 'c', ['pull', '-q', '--authfile', sb.auth, '--tls-verify=false', `${name}@${digest}`]));
    const ids = ok(await podman(sb, 'c', ['images', '-q', '--no-trunc']))
      .toString()
      .trim();
    assert.equal(ids, `sha256:${id}`);
  });
});

// ---------------------------------------------------------------------------

describe('buildah against kura serve', () => {
  const ctx = withServer(['buildah', 'skopeo', 'umoci', 'jq']);

  function buildah(sb: Sandbox, store: string, args: string[]): Promise<Result> {
    return run('buildah', [...containerStoreFlags(join(sb.dir, store), false), ...args], sb.env);
  }

  async function buildScratchImage(sb: Sandbox, content: string): Promise<string> {
    const file = join(sb.dir, 'greeting.txt');
    await writeFile(file, content);
    const ctr = ok(await buildah(sb, 'a', ['from', 'scratch']))
      .toString()
      .trim();
    ok(await buildah(sb, 'a', ['copy', ctr, file, '/greeting.txt']));
    ok(
      await buildah(sb, 'a', [
        'config',
        '--label',
        'org.example.kura-test=buildah',
        '--os',
        'linux',
        '--arch',
        'amd64',
        ctr,
      ]),
    );
    const id = ok(await buildah(sb, 'a', ['commit', '-q', '--format', 'oci', ctr, 'kura-buildah-scratch']))
      .toString()
      .trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    return id;
  }

  test('buildah push of a FROM scratch image; pull it back and read the file', TEST_TIMEOUT, async () => {
    const sb = await sandbox();
    const content = `built by buildah for kura ${Date.now()}\n`;
    const id = await buildScratchImage(sb, content);
    const ref = `${ctx.host()}/buildah/scratch:v1`;
    const digestFile = join(sb.dir, 'pushed.digest');
    ok(
      await buildah(sb, 'a', [
        'push',
        '--authfile',
        sb.auth,
        '--tls-verify=false',
        '--digestfile',
        digestFile,
        id,
        `docker://${ref}`,
      ]),
    );
    const digest = await readDigestFile(digestFile);
    const raw = await inspectRaw(sb, ref);
    assert.equal(sha256(raw), digest, "served manifest hashes to buildah's digest");
    assert.equal(sha256(await inspectRaw(sb, ref, ['--config'])), `sha256:${id}`, 'config blob is the image ID');

    ok(await buildah(sb, 'b', ['pull', '-q', '--authfile', sb.auth, '--tls-verify=false', ref]));
    const info = JSON.parse(ok(await buildah(sb, 'b', ['inspect', '--type', 'image', ref])).toString()) as {
      FromImageID: string;
      FromImageDigest: string;
      OCIv1: { config: { Labels: Record<string, string> } };
    };
    assert.equal(info.FromImageID, id);
    assert.equal(info.FromImageDigest, digest);
    assert.equal(info.OCIv1.config.Labels['org.example.kura-test'], 'buildah');

    const ctr = ok(await buildah(sb, 'b', ['from', '-q', ref]))
      .toString()
      .trim();
    const mnt = ok(await buildah(sb, 'b', ['mount', ctr]))
      .toString()
      .trim();
    try {
      assert.equal(await readFile(join(mnt, 'greeting.txt'), 'utf8'), content);
    } finally {
      await buildah(sb, 'b', ['umount', ctr]);
    }
  });
});
