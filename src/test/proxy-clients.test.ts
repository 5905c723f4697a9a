/**
 * Real clients through the pull-through cache, in front of Distribution 2.8.2 behind a Docker token service (the
 * upstream credentials come from a credentialsFile): skopeo copy and podman pull get the upstream's manifest
 * byte-exact; an upstream URL on loopback without allowPrivate refuses to start.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { serveConfigSchema } from '../config/schema.js';
import { startServer } from '../server/start.js';
import {
  distributionMissing,
  startDistribution,
  startTokenService,
  type Distribution,
  type TokenService,
} from './distribution.js';
import { hasTool, loadTestImages, makeTestImages, type TestImage } from './kura-process.js';
import { tempDir } from './tempdirs.js';
import { startTestServer, type TestServer } from './testkit.js';

const execFileP = promisify(execFile);
const TIMEOUT = { timeout: 90_000 };

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Buffer> {
  try {
    return (await execFileP(cmd, args, { env, encoding: 'buffer', timeout: 60_000, maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    const x = e as { message: string; stderr?: Buffer };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${x.message}\n${x.stderr?.toString() ?? ''}`);
  }
}

const missing = distributionMissing() ?? (['skopeo', 'podman'].find((t) => !hasTool(t)) ? 'skopeo/podman' : undefined);

describe('pull-through cache in front of Distribution with token auth', { skip: missing }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let tokens: TokenService;
  let dist: Distribution;
  let cache: TestServer;
  let layers: TestImage;
  let pushed: string;

  before(async () => {
    dir = await tempDir('kura-proxy-clients-');
    env = { ...process.env, HOME: dir, TMPDIR: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json') };
    await writeFile(join(dir, 'auth.json'), '{"auths":{}}\n');
    layers = (await loadTestImages(await makeTestImages())).get('layers')!;
    tokens = await startTokenService(dir, { alice: 'alice-pw' });
    dist = await startDistribution({ token: tokens });
    const digestFile = join(dir, 'pushed.digest');
    await run(
      'skopeo',
      [
        'copy',
        '-q',
        '--dest-creds',
        'alice:alice-pw',
        '--dest-tls-verify=false',
        '--digestfile',
        digestFile,
        layers.ociRef,
        `docker://${dist.host}/team/layers:v1`,
      ],
      env,
    );
    pushed = (await readFile(digestFile, 'utf8')).trim();
    const creds = join(dir, 'upstream-creds');
    await writeFile(creds, 'alice:alice-pw\n', { mode: 0o600 });
    cache = await startTestServer({
      proxy: { upstreams: [{ name: 'dist', url: dist.url, credentialsFile: creds, allowPrivate: true }] },
    });
  });

  after(async () => {
    await cache?.close();
    await dist?.stop();
    await tokens?.close();
  });

  test('skopeo copies through the cache: the manifest is the upstream one, byte-exact', TIMEOUT, async () => {
    const host = new URL(cache.url).host;
    const raw = await run(
      'skopeo',
      ['inspect', '--raw', '--tls-verify=false', `docker://${host}/dist/team/layers:v1`],
      env,
    );
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, pushed);
    const out = join(dir, 'copied');
    await run(
      'skopeo',
      ['copy', '-q', '--src-tls-verify=false', `docker://${host}/dist/team/layers:v1`, `oci:${out}:v1`],
      env,
    );
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, pushed);
    assert.ok(tokens.requests.length > 0, 'the cache went through the token flow upstream');
  });

  test('podman pulls through the cache', TIMEOUT, async () => {
    const host = new URL(cache.url).host;
    const store = join(dir, 'podman');
    const flags = ['--root', join(store, 'root'), '--runroot', join(store, 'runroot'), '--storage-driver', 'vfs'];
    const more = ['--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--tmpdir', join(store, 'tmp')];
    await run('podman', [...flags, ...more, 'pull', '-q', '--tls-verify=false', `${host}/dist/team/layers:v1`], env);
    const inspect = JSON.parse(
      (await run('podman', [...flags, ...more, 'image', 'inspect', `${host}/dist/team/layers:v1`], env)).toString(),
    ) as { Digest: string }[];
    assert.equal(inspect[0]!.Digest, pushed);
  });
});

describe('upstream URLs', () => {
  test('a loopback upstream without allowPrivate refuses to start, naming the fix', async () => {
    const data = await tempDir('kura-proxy-ssrf-');
    const config = serveConfigSchema.parse({
      listen: '127.0.0.1:0',
      data,
      log: { level: 'silent' },
      proxy: { upstreams: [{ name: 'local', url: 'http://127.0.0.1:5000' }] },
    });
    await assert.rejects(
      startServer(config),
      /127\.0\.0\.1 is a loopback, link-local or private address.*allowPrivate/,
    );
    const linkLocal = serveConfigSchema.parse({
      ...config,
      proxy: { upstreams: [{ name: 'meta', url: 'http://169.254.169.254' }] },
    });
    await assert.rejects(startServer(linkLocal), /allowPrivate/);
  });
});
