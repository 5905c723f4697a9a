/**
 * Two `kura serve` replicas over one S3 bucket (Ceph RGW) and one PostgreSQL 15 database, behind nginx running
 * the configuration of docs/deployment.md: a chunked upload moving between replicas, the OCI conformance cases
 * through the front end, skopeo, podman and buildah through it, a replica SIGKILLed mid-push, the registry:2
 * redirect mode with skopeo pulling from S3 itself, and GC chaos (a collector on one replica while others push).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { containerStoreFlags, runKura, runTool } from './helpers.js';
import { conformanceSuite } from './conformance-cases.js';
import { remoteRegistry } from './conformance-kit.js';
import { REPO_ROOT, hasTool, startKura, type KuraProcess } from './kura-process.js';
import { documentedNginxConf, startNginxFront, type NginxFront } from './nginx-front.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from './postgres.js';
import { emptyPrefix, s3Service, type S3Service } from './s3-service.js';
import { assertAllPull, chaosWorker, sharedLayers, type ChaosImage } from './gc-chaos-kit.js';
import { tempDir } from './tempdirs.js';
import { assertStatus, rawRequest, type Res } from './testkit.js';

const svc = await s3Service();
// PostgreSQL only when there is an S3 server to pair it with (as root, postgresUrl() would start a cluster).
const pgUrl = typeof svc === 'string' ? null : await postgresUrl();
const missing = ['nginx', 'skopeo'].filter((t) => !hasTool(t));
const skip =
  typeof svc === 'string'
    ? svc
    : pgUrl === null
      ? POSTGRES_SKIP
      : missing.length > 0
        ? `missing ${missing.join(', ')} (apt-get install nginx-light skopeo)`
        : false;
if (skip && process.env.CI) throw new Error(`${skip}: CI must run the replica tests`);

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const req = (base: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}) =>
  rawRequest(base, undefined, method, path, { body, headers, timeoutMs: 60_000 });

async function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const r = await runTool(cmd, args, { env, timeoutMs: 300_000 });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

/** An OCI layout holding one image with a gzip layer of `layerBytes` random bytes; returns its manifest digest. */
async function writeLayout(dir: string, layerBytes: number): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer) => {
    await writeFile(join(blobs, sha256(b).slice(7)), b);
    return sha256(b);
  };
  const layer = gzipSync(randomBytes(layerBytes), { level: 1 });
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await put(config), size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await put(layer), size: layer.length },
      ],
    }),
  );
  const digest = await put(manifest);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      },
    ],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return digest;
}

/** Bytes a process has read from sockets and files so far (Linux /proc). */
async function readBytes(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
  return Number(/^rchar: (\d+)/m.exec(io)?.[1] ?? 0);
}

describe('kura replicas on S3 and PostgreSQL behind nginx', { skip }, () => {
  const s3 = svc as S3Service;
  const prefix = `replicas-${randomUUID()}`;
  let dir: string;
  let dataDir: string;
  let schema: { schema: string; drop: () => Promise<void> } | undefined;
  const replicas: KuraProcess[] = [];
  let nginx: NginxFront | undefined;
  let front: string;
  let env: NodeJS.ProcessEnv;

  // Blobs in one bucket, metadata in one PostgreSQL schema: the data directory holds nothing shared.
  const serveArgs = (extra: string[] = []) => [
    '--storage-driver',
    's3',
    '--storage-s3-bucket',
    s3.bucket,
    '--storage-s3-prefix',
    prefix,
    '--storage-s3-endpoint',
    s3.endpoint,
    '--metadata-driver',
    'postgres',
    '--metadata-postgres-schema',
    schema!.schema,
    ...extra,
  ];
  // Credentials reach the replicas through the environment: the AWS default chain, and the PostgreSQL URL
  // (which may carry a password) in KURA_METADATA_POSTGRES_URL rather than on the command line.
  const replicaEnv = () => ({
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    KURA_METADATA_POSTGRES_URL: pgUrl!,
  });
  // Each replica its own data directory: nothing in it is shared.
  const startReplica = (extra: string[] = []) =>
    startKura({ dataDir: join(dir, `data-${randomUUID()}`), args: serveArgs(extra), env: replicaEnv() });
  // The same stores for the offline commands (kura fsck, kura gc), through the environment.
  const storeEnv = () => ({
    ...process.env,
    ...replicaEnv(),
    KURA_STORAGE_DRIVER: 's3',
    KURA_STORAGE_S3_BUCKET: s3.bucket,
    KURA_STORAGE_S3_PREFIX: prefix,
    KURA_STORAGE_S3_ENDPOINT: s3.endpoint,
    KURA_METADATA_DRIVER: 'postgres',
    KURA_METADATA_POSTGRES_SCHEMA: schema!.schema,
  });

  before(async () => {
    dir = tempDir('kura-replicas-');
    dataDir = join(dir, 'offline');
    await mkdir(dataDir);
    schema = await freshSchema(pgUrl!);
    replicas.push(await startReplica(), await startReplica());
    nginx = await startNginxFront(join(dir, 'nginx'), [replicas[0]!.host, replicas[1]!.host]);
    front = nginx.url;
    const home = join(dir, 'home');
    await mkdir(home);
    await writeFile(join(dir, 'auth.json'), '{"auths":{}}');
    env = { ...process.env, HOME: home, REGISTRY_AUTH_FILE: join(dir, 'auth.json') };
  });

  after(async () => {
    await nginx?.stop();
    for (const r of replicas) await r.stop().catch(() => r.kill());
    await rm(dir, { recursive: true, force: true });
    await emptyPrefix(s3, prefix);
    await schema?.drop();
    await s3.stop(); // only an RGW this process started
  });

  test('nginx runs the configuration docs/deployment.md prints, which is deploy/nginx.conf', async () => {
    assert.equal(await documentedNginxConf(), await readFile(join(REPO_ROOT, 'deploy', 'nginx.conf'), 'utf8'));
    assert.match(nginx!.conf, /proxy_request_buffering off;/);
    for (const r of replicas) assert.ok(nginx!.conf.includes(`server ${r.host} `), `${r.host} is an upstream`);
  });

  const skopeo = (args: string[]) => run('skopeo', ['--insecure-policy', ...args], env);
  const host = () => front.slice('http://'.length);

  test('a chunked upload started on replica 1 is continued and finished on replica 2', async () => {
    const [r1, r2] = [replicas[0]!.url, replicas[1]!.url];
    const data = randomBytes(9 * 1024 * 1024 + 3);
    const cuts = [0, 3 * 1024 * 1024, 7 * 1024 * 1024, data.length];
    const started = await req(r1, 'POST', '/v2/chunked/app/blobs/uploads/');
    assertStatus(started, 202);
    let location = started.headers.location!;
    for (let i = 0; i < 3; i++) {
      const base = i === 1 ? r2 : r1;
      const chunk = data.subarray(cuts[i], cuts[i + 1]);
      const res: Res = await req(base, 'PATCH', location, chunk, {
        'content-type': 'application/octet-stream',
        'content-range': `${cuts[i]}-${cuts[i + 1]! - 1}`,
      });
      assertStatus(res, 202);
      assert.equal(res.headers.range, `0-${cuts[i + 1]! - 1}`);
      location = res.headers.location!;
    }
    const status = await req(r2, 'GET', location);
    assert.equal(status.headers.range, `0-${data.length - 1}`, 'replica 2 sees the size replica 1 wrote');
    const sep = location.includes('?') ? '&' : '?';
    assertStatus(await req(r2, 'PUT', `${location}${sep}digest=${sha256(data)}`), 201);
    for (const base of [r1, r2, front]) {
      const got = await req(base, 'GET', `/v2/chunked/app/blobs/${sha256(data)}`);
      assertStatus(got, 200);
      assert.equal(sha256(got.body), sha256(data));
    }
  });

  // The 79 cases of the distribution-spec suite, each request through nginx to whichever replica it picks.
  describe('the OCI conformance cases through nginx (OCI_AUTOMATIC_CROSSMOUNT=0)', () =>
    conformanceSuite(false, () => remoteRegistry(() => front)));

  test('skopeo pushes and pulls through nginx; both replicas serve the image', async () => {
    const src = join(dir, 'layout-small');
    const digest = await writeLayout(src, 6 * 1024 * 1024);
    const ref = `${host()}/front/app:v1`;
    const pushed = await skopeo(['copy', '-q', '--dest-tls-verify=false', `oci:${src}:latest`, `docker://${ref}`]);
    assert.equal(pushed.code, 0, pushed.out);
    const out = join(dir, 'pulled-small');
    const pulled = await skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:latest`]);
    assert.equal(pulled.code, 0, pulled.out);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].digest, digest);
    for (const r of replicas) {
      assertStatus(await req(r.url, 'GET', '/readyz'), 200);
      const res = await req(r.url, 'GET', '/v2/front/app/manifests/v1', undefined, {
        accept: 'application/vnd.oci.image.manifest.v1+json',
      });
      assertStatus(res, 200);
      assert.equal(res.headers['docker-content-digest'], digest);
    }
  });

  const noBuilders = ['podman', 'buildah'].filter((t) => !hasTool(t));
  if (noBuilders.length > 0 && process.env.CI) throw new Error(`CI must run podman and buildah: ${noBuilders}`);
  test(
    'buildah and podman push and pull through nginx; both replicas serve what each pushed',
    { skip: noBuilders.length > 0 ? `missing ${noBuilders.join(', ')} (apt-get install podman buildah)` : false },
    async () => {
      const tool = (name: 'podman' | 'buildah', store: string, args: string[]) =>
        run(name, [...containerStoreFlags(join(dir, 'stores', store), name === 'podman'), ...args], env);
      const ok = async (p: Promise<{ code: number; out: string }>) => {
        const r = await p;
        assert.equal(r.code, 0, r.out);
        return r.out.trim();
      };
      const tls = ['--authfile', join(dir, 'auth.json'), '--tls-verify=false'];
      const servedBy = async (repo: string, tag: string) => {
        const got = [];
        for (const r of replicas) {
          const res = await req(r.url, 'GET', `/v2/${repo}/manifests/${tag}`, undefined, {
            accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
          });
          assertStatus(res, 200);
          got.push(sha256(res.body));
        }
        return got;
      };
      // buildah builds FROM scratch and pushes through the front end.
      const content = `pushed through nginx ${randomUUID()}\n`;
      await writeFile(join(dir, 'greeting.txt'), content);
      const ctr = await ok(tool('buildah', 'a', ['from', 'scratch']));
      await ok(tool('buildah', 'a', ['copy', ctr, join(dir, 'greeting.txt'), '/greeting.txt']));
      await ok(tool('buildah', 'a', ['config', '--os', 'linux', '--arch', 'amd64', ctr]));
      const id = await ok(tool('buildah', 'a', ['commit', '-q', '--format', 'oci', ctr, 'kura-replicas']));
      const built = join(dir, 'buildah.digest');
      await ok(
        tool('buildah', 'a', ['push', ...tls, '--digestfile', built, id, `docker://${host()}/tools/buildah:v1`]),
      );
      const fromBuildah = (await readFile(built, 'utf8')).trim();
      assert.deepEqual(await servedBy('tools/buildah', 'v1'), [fromBuildah, fromBuildah]);

      // podman pulls it through the front end into its own store, and pushes it on under another name.
      await ok(tool('podman', 'b', ['pull', '-q', ...tls, `${host()}/tools/buildah:v1`]));
      const [info] = JSON.parse(await ok(tool('podman', 'b', ['image', 'inspect', `${host()}/tools/buildah:v1`]))) as {
        Id: string;
        Digest: string;
      }[];
      assert.deepEqual([info!.Id, info!.Digest], [id, fromBuildah], 'podman pulled the image buildah built');
      const pushed = join(dir, 'podman.digest');
      const to = `docker://${host()}/tools/podman:v1`;
      await ok(tool('podman', 'b', ['push', ...tls, '--digestfile', pushed, `${host()}/tools/buildah:v1`, to]));
      const fromPodman = (await readFile(pushed, 'utf8')).trim();
      assert.deepEqual(await servedBy('tools/podman', 'v1'), [fromPodman, fromPodman]);

      // buildah pulls podman's push back through the front end: the file is there.
      const back = await ok(tool('buildah', 'c', ['from', '-q', ...tls, `${host()}/tools/podman:v1`]));
      const mnt = await ok(tool('buildah', 'c', ['mount', back]));
      try {
        assert.equal(await readFile(join(mnt, 'greeting.txt'), 'utf8'), content);
      } finally {
        await tool('buildah', 'c', ['umount', back]);
      }
    },
  );

  test('redirect mode: blob GETs answer 307 to a presigned S3 URL and skopeo pulls through it', async () => {
    const redirecting = await startReplica(['--storage-redirect', 'true']);
    try {
      const m = await req(redirecting.url, 'GET', '/v2/front/app/manifests/v1', undefined, {
        accept: 'application/vnd.oci.image.manifest.v1+json',
      });
      assertStatus(m, 200);
      const layer = m.json().layers[0].digest as string;
      const res = await req(redirecting.url, 'GET', `/v2/front/app/blobs/${layer}`);
      assertStatus(res, 307);
      assert.ok(res.headers.location!.startsWith(`${s3.endpoint}/${s3.bucket}/${prefix}/blobs/sha256/`));
      assert.match(res.headers.location!, /X-Amz-Signature=/);
      assertStatus(await req(redirecting.url, 'GET', `/v2/other/app/blobs/${layer}`), 404);
      const out = join(dir, 'pulled-redirect');
      const pulled = await skopeo([
        'copy',
        '-q',
        '--src-tls-verify=false',
        `docker://${redirecting.host}/front/app:v1`,
        `oci:${out}:latest`,
      ]);
      assert.equal(pulled.code, 0, pulled.out);
      const blob = await readFile(join(out, 'blobs', 'sha256', layer.slice(7)));
      assert.equal(sha256(blob), layer);
    } finally {
      await redirecting.stop();
    }
  });

  test('a replica SIGKILLed mid-push: skopeo retries through the other one; fsck finds the store clean', async () => {
    const src = join(dir, 'layout-big');
    const digest = await writeLayout(src, 96 * 1024 * 1024);
    const ref = `${host()}/killed/app:v1`;
    const before = await Promise.all(replicas.map((r) => readBytes(r.proc.pid!)));
    const push = skopeo([
      'copy',
      '-q',
      '--retry-times',
      '3',
      '--dest-tls-verify=false',
      `oci:${src}:latest`,
      `docker://${ref}`,
    ]);
    let victim: KuraProcess | undefined;
    for (let i = 0; i < 600 && !victim; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const now = await Promise.all(replicas.map((r) => readBytes(r.proc.pid!)));
      const busy = now.findIndex((n, j) => n - before[j]! > 16 * 1024 * 1024);
      if (busy >= 0) victim = replicas[busy];
    }
    assert.ok(victim, 'one replica received the layer');
    await victim.kill();
    let pushed = await push;
    if (pushed.code !== 0) {
      // containers/image retries some network errors itself (--retry-times), not all ("use of closed network
      // connection"): then the client's retry is running skopeo again, as a CI job would.
      assert.match(pushed.out, /Patch|connection|EOF|reset/i, pushed.out);
      pushed = await skopeo(['copy', '-q', '--dest-tls-verify=false', `oci:${src}:latest`, `docker://${ref}`]);
    } else {
      assert.match(pushed.out, /retrying/i, 'the kill hit the push, which skopeo then retried');
    }
    assert.equal(pushed.code, 0, pushed.out);
    const survivor = replicas.find((r) => r !== victim)!;
    const out = join(dir, 'pulled-big');
    const pulled = await skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:latest`]);
    assert.equal(pulled.code, 0, pulled.out);
    assert.equal(JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests[0].digest, digest);
    const m = await req(survivor.url, 'GET', '/v2/killed/app/manifests/v1', undefined, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    assert.equal(m.headers['docker-content-digest'], digest);
    const fsck = await runKura(['fsck', '--data', dataDir], { env: storeEnv() });
    assert.equal(fsck.code, 0, `${fsck.stdout}${fsck.stderr}`);
  });
  const chaos = 'GC chaos across replicas: a collector on one while the others take pushes; nothing lost, fsck clean';
  test(chaos, async (t) => {
    // Three more replicas over the same bucket and metadata, all with a 3 s grace: two take the pushes and never
    // collect, the third collects every 500 ms and takes no pushes. (The replicas behind nginx keep the default
    // one-hour grace, whose leases would keep everything.)
    const short = ['--gc-grace', '3s', '--gc-allow-short-grace', 'true'];
    const pushers = [await startReplica(short), await startReplica(short)];
    const collector = await startReplica([...short, '--gc-interval', '500ms', '--metrics-enabled', 'true']);
    const freed = async () => {
      const m = await req(collector.url, 'GET', '/metrics');
      assertStatus(m, 200);
      return Number(/^kura_gc_freed_blobs_total (\d+)/m.exec(m.text())?.[1] ?? 0);
    };
    try {
      const targets = pushers.map((r) => ({
        req: (method: string, path: string, o?: Parameters<typeof rawRequest>[4]) =>
          rawRequest(r.url, undefined, method, path, { timeoutMs: 60_000, ...o }),
      }));
      const stats = { pushes: 0, retries: 0, deletes: 0, blobUnknownOnPush: 0 };
      const expected = new Map<string, ChaosImage>();
      const shared = sharedLayers();
      const until = Date.now() + 8000;
      // Six pushers, three per replica; each repository gets pushes through both.
      await Promise.all(
        Array.from({ length: 6 }, (_, w) =>
          chaosWorker({
            server: targets[Math.floor(w / 2) % 2]!,
            worker: w,
            repo: `gcchaos/r${w % 2}`,
            shared,
            until,
            expected,
            stats,
          }),
        ),
      );
      // Blobs freed late in the run age past the 3 s grace after it: the collector keeps running meanwhile.
      let sweptDuringRun = await freed();
      for (let i = 0; i < 60 && sweptDuringRun === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        sweptDuringRun = await freed();
      }
      t.diagnostic(JSON.stringify({ ...stats, sweptDuringRun }));
      assert.ok(stats.pushes > 20, `too few pushes to mean anything: ${JSON.stringify(stats)}`);
      assert.ok(sweptDuringRun > 0, 'the collector deleted nothing while the pushers ran');
      // No lost blob: every tag pulls whole, byte-exact, from both replicas.
      for (const [i, r] of targets.entries()) await assertAllPull(r, expected, `replica ${i}: `);
    } finally {
      for (const r of [collector, ...pushers]) await r.stop();
    }
    // A last offline collection past every grace period; then nothing is left to collect and fsck is clean.
    const offline = storeEnv();
    const gc = await runKura(['gc', '--data', dataDir, '--grace', '0s', '--json'], { env: offline });
    assert.equal(gc.code, 0, gc.stderr);
    const dry = await runKura(['gc', '--data', dataDir, '--grace', '0s', '--dry-run', '--json'], { env: offline });
    const left = JSON.parse(dry.stdout) as { blobs: unknown[]; unrecorded: unknown[] };
    assert.deepEqual([left.blobs, left.unrecorded], [[], []], 'the store ends exactly referenced');
    const fsck = await runKura(['fsck', '--data', dataDir], { env: offline });
    assert.equal(fsck.code, 0, `${fsck.stdout}${fsck.stderr}`);
  });
});
