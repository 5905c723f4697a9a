import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './testkit.js';
import type { Descriptor } from '../oci/artifact.js';
import { randomImage, randomIndex, type MemoryArtifact } from '../oci/random.js';
import { humanSize } from '../cli/format/store-format.js';
import { RegistryClient, RegistryRepository } from '../transports/registry/index.js';
import { tempDir } from './tempdirs.js';
import { runKura } from './helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kura(store: string, ...args: string[]): Promise<Run> {
  return kuraEnv({}, store, ...args);
}

function kuraEnv(env: NodeJS.ProcessEnv, store: string, ...args: string[]): Promise<Run> {
  return runKura([...args, '--store', store], { env: { ...process.env, CI: '1', ...env } });
}

async function ok(store: string, ...args: string[]): Promise<Run> {
  const r = await kura(store, ...args);
  assert.equal(r.code, 0, `kura ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

/** Bytes on disk of an image as the store counts them: manifest, config and layers. */
function bytesOf(a: MemoryArtifact): number {
  const m = JSON.parse(a.manifest.toString()) as { config: Descriptor; layers: Descriptor[] };
  return a.manifest.length + m.config.size + m.layers.reduce((s, l) => s + l.size, 0);
}
/** docker's SIZE of an image: its layers unpacked. */
function unpackedOf(a: MemoryArtifact): number {
  const m = JSON.parse(a.manifest.toString()) as { layers: Descriptor[] };
  return m.layers.reduce((s, l) => s + gunzipSync(a.blobs.map.get(l.digest)!).length, 0);
}
const configOf = (a: MemoryArtifact) => (JSON.parse(a.manifest.toString()) as { config: Descriptor }).config.digest;

let server: TestServer;
let host: string;
const push = async (repo: string, tag: string, a: MemoryArtifact) =>
  new RegistryRepository(new RegistryClient({ registry: host }), repo).write(tag, a);
const images: Record<string, MemoryArtifact> = {};

before(async () => {
  server = await startTestServer();
  host = new URL(server.url).host;
  images.app = await randomImage({ seed: 101, layers: 2 });
  images.byDigest = await randomImage({ seed: 102 });
  images.multi = await randomIndex({ seed: 103 });
  images.newer = await randomImage({ seed: 104 });
  await push('lib/app', '1', images.app);
  await push('lib/bydigest', '1', images.byDigest);
  await push('lib/multi', '1', images.multi);
  await push('library/mirrored', '1', images.app);
  await push('library/mirrored', '2', images.byDigest);
});
after(async () => server.close());

test('pull reads Docker Hub images through the configured mirror', async () => {
  const store = tempDir('kura-store-mirror-');
  // The test server plays the mirror; Docker Hub itself cannot be reached from here, so a pull that
  // skipped the mirror would fail. (Tag lists still come from the registry: a mirror may hold a few.)
  const env = { KURA_REGISTRY_MIRRORS: server.url };
  for (const [tag, image] of [
    ['1', images.app!],
    ['2', images.byDigest!],
  ] as const) {
    const r = await kuraEnv(env, store, 'pull', `mirrored:${tag}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `docker.io/library/mirrored:${tag}\n`);
    assert.match(r.stderr, new RegExp(`^Digest: ${image.descriptor.digest}$`, 'm'));
  }
});

test(
  'pull by tag, by digest and by platform; images, tag, push, rmi, prune and system df through the ' + 'CLI',
  async () => {
    const store = tempDir('kura-store-cli-');
    const app = `${host}/lib/app:1`;
    const pulled = await ok(store, 'pull', app);
    assert.equal(pulled.stdout, `${app}\n`);
    assert.match(pulled.stderr, new RegExp(`^Digest: ${images.app!.descriptor.digest}$`, 'm'));
    assert.match(pulled.stderr, new RegExp(`^Status: Downloaded newer image for ${app}$`, 'm'));
    assert.match((await ok(store, 'pull', app)).stderr, /^Status: Image is up to date for /m);

    const dig = `${host}/lib/bydigest@${images.byDigest!.descriptor.digest}`;
    assert.equal((await ok(store, 'pull', dig)).stdout, `${dig}\n`);
    const multi = await ok(store, 'pull', '--platform', 'linux/arm64', `${host}/lib/multi:1`, '--json');
    const result = JSON.parse(multi.stdout.trim().split('\n').at(-1)!) as {
      event: string;
      platform: string;
      digest: string;
    };
    assert.deepEqual(
      [result.event, result.platform, result.digest],
      ['result', 'linux/arm64/v8', images.multi!.descriptor.digest],
    );

    const recs = JSON.parse((await ok(store, 'images', '--json')).stdout) as {
      id: string;
      digest: string;
      names: string[];
      repoDigests: string[];
      platform: string;
    }[];
    const arm = (JSON.parse(images.multi!.manifest.toString()) as { manifests: Descriptor[] }).manifests[1]!;
    const m = recs.find((r) => r.names.includes(`${host}/lib/multi:1`))!;
    assert.equal(m.digest, arm.digest, 'the arm64 child is the image');
    assert.deepEqual(
      m.repoDigests,
      [`${host}/lib/multi@${images.multi!.descriptor.digest}`],
      'RepoDigests has the index digest',
    );
    const d = recs.find((r) => r.digest === images.byDigest!.descriptor.digest)!;
    assert.deepEqual([d.names, d.repoDigests], [[], [dig]]);

    const table = (await ok(store, 'images')).stdout.split('\n');
    assert.match(table[0]!, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
    const appId = configOf(images.app!).slice(7, 19);
    const row = table.find((l) => l.includes(appId))!;
    assert.match(
      row,
      new RegExp(
        `^${host}/lib/app +1 +${appId} +\\d+ (months|years) ago ` +
          `+${humanSize(unpackedOf(images.app!)).replace('.', '\\.')}$`,
      ),
      'SIZE: the layers unpacked, as docker shows it',
    );
    assert.match(table.find((l) => l.startsWith(`${host}/lib/bydigest `))!, / <none> /);
    const quiet = (await ok(store, 'images', '-q')).stdout.trim().split('\n');
    assert.equal(quiet.length, 3);
    assert.ok(quiet.every((q) => /^[0-9a-f]{12}$/.test(q)));
    assert.match(
      (await ok(store, 'images', '--digests', `${host}/lib/app`)).stdout,
      new RegExp(`^${host}/lib/app +1 +${images.app!.descriptor.digest} +${appId} `, 'm'),
    );

    await ok(store, 'tag', app, `${host}/other/app:2`);
    const pushed = await ok(store, 'push', `${host}/other/app:2`);
    assert.equal(pushed.stdout, `2: digest: ${images.app!.descriptor.digest} size: ${images.app!.manifest.length}\n`);
    assert.equal(
      (await new RegistryRepository(new RegistryClient({ registry: host }), 'other/app').get('2')).descriptor.digest,
      images.app!.descriptor.digest,
    );
    const missing = await kura(store, 'push', `${host}/other/none:1`);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^kura: error: no image .*other\/none:1 in the image store .*kura pull .*kura tag IMAGE/m,
    );

    const twoRepos = await kura(store, 'rmi', appId);
    assert.equal(twoRepos.code, 1);
    assert.match(
      twoRepos.stderr,
      /conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/,
    );
    // Pushed, the image has a repo digest in other/app too; its last tag there takes it along (docker's output).
    assert.equal(
      (await ok(store, 'rmi', `${host}/other/app:2`)).stdout,
      `Untagged: ${host}/other/app:2\nUntagged: ${host}/other/app@${images.app!.descriptor.digest}\n`,
    );

    // The tag moves on the registry: the old image stays as lib/app <none>, dangling (no tag), as
    // the image pulled by digest is.
    await push('lib/app', '1', images.newer!);
    await ok(store, 'pull', app);
    const dangling = (await ok(store, 'images', '--filter', 'dangling=true')).stdout;
    assert.match(dangling, new RegExp(`^${host}/lib/app +<none> +${appId} `, 'm'));
    assert.equal(dangling.trim().split('\n').length, 3);
    const reclaimable = bytesOf(images.app!) + bytesOf(images.byDigest!);
    const df = (await ok(store, 'system', 'df')).stdout;
    // No containers here: no image is active, and RECLAIMABLE is what prune -a would free (docker's meaning).
    assert.match(df, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +4 +0 +(\S+) +\1 \(100%\)\n$/);
    const dfJson = JSON.parse((await ok(store, 'system', 'df', '--json')).stdout) as {
      reclaimable: number;
      active: number;
    };
    assert.equal(
      dfJson.reclaimable,
      (JSON.parse((await ok(store, 'image', 'prune', '-a', '--dry-run', '--json')).stdout) as { reclaimed: number })
        .reclaimed,
    );
    assert.equal(
      (JSON.parse((await ok(store, 'image', 'prune', '--dry-run', '--json')).stdout) as { reclaimed: number })
        .reclaimed,
      reclaimable,
      'dangling only',
    );
    const dfv = (await ok(store, 'system', 'df', '-v')).stdout;
    assert.match(
      dfv,
      /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
    );

    const noTty = await kura(store, 'image', 'prune');
    assert.equal(noTty.code, 1);
    assert.match(noTty.stderr, /stdin is not a terminal: add -f/);
    const pruned = await ok(store, 'image', 'prune', '-f');
    const lines = [
      `untagged: ${host}/lib/app@${images.app!.descriptor.digest}`,
      `deleted: ${configOf(images.app!)}`,
      `untagged: ${dig}`,
      `deleted: ${configOf(images.byDigest!)}`,
    ];
    assert.equal(
      pruned.stdout,
      `Deleted Images:\n${lines.join('\n')}\n\nTotal reclaimed space: ${humanSize(reclaimable, 4)}\n`,
    );
    assert.equal((await ok(store, 'images', '-q')).stdout.trim().split('\n').length, 2);
    const gone = await kura(store, 'rmi', 'nope:1');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^kura: error: no such image: nope:1/m);
  },
);

test('two kura processes pulling into one store at once both end up listed, every tag of both', async () => {
  const shared = [{ name: 'shared/big', data: Buffer.alloc(3 << 20, 7) }];
  const x = await randomImage({ seed: 201, files: [shared, [{ name: 'x', data: Buffer.alloc(1 << 20, 1) }]] });
  const y = await randomImage({ seed: 202, files: [shared, [{ name: 'y', data: Buffer.alloc(1 << 20, 2) }]] });
  const tags = Array.from({ length: 25 }, (_, i) => `t${i}`);
  for (const t of tags) {
    await push('race/x', t, x);
    await push('race/y', t, y);
  }
  const store = tempDir('kura-store-race-');
  // Each process commits 25 times to images.json while the other does: without the lock, writes get lost.
  await Promise.all([ok(store, 'pull', '-a', `${host}/race/x`), ok(store, 'pull', '-a', `${host}/race/y`)]);
  const recs = JSON.parse((await ok(store, 'images', '--json')).stdout) as { names: string[] }[];
  assert.equal(recs.length, 2);
  assert.deepEqual(
    recs.flatMap((r) => r.names).sort(),
    [...tags.map((t) => `${host}/race/x:${t}`), ...tags.map((t) => `${host}/race/y:${t}`)].sort(),
  );
});
