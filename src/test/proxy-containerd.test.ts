/**
 * containerd through the pull-through cache: a private containerd daemon (its own root, state and socket, so no
 * other containerd is touched) fetches `docker.io/library/...` with a hosts.toml mirror pointing at the cache;
 * containerd adds `?ns=docker.io`, which routes the requests to the Docker Hub mirror upstream (a second
 * `kura serve`). Needs root and the containerd package; skipped with a message otherwise.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { hasTool } from './kura-process.js';
import { makeImage, pushImage, startTestServer, type TestServer } from './testkit.js';

const execFileP = promisify(execFile);
const skip =
  process.getuid?.() !== 0
    ? 'containerd needs root'
    : !hasTool('containerd') || !hasTool('ctr')
      ? 'containerd and ctr are not installed (apt-get install containerd)'
      : undefined;

let dir: string;
let daemon: ChildProcess | undefined;
let upstream: TestServer;
let cache: TestServer;
const sock = () => join(dir, 'containerd.sock');

async function ctr(...args: string[]): Promise<string> {
  try {
    return (await execFileP('ctr', ['--address', sock(), ...args], { timeout: 60_000 })).stdout;
  } catch (e) {
    const x = e as { message: string; stderr?: string };
    throw new Error(`ctr ${args.join(' ')} failed: ${x.message}\n${x.stderr ?? ''}`);
  }
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'kura-containerd-'));
  writeFileSync(
    join(dir, 'config.toml'),
    `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\n` +
      `disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${sock()}"\n` +
      `[ttrpc]\n  address = "${sock()}.ttrpc"\n[debug]\n  address = ""\n[metrics]\n  address = ""\n`,
  );
  daemon = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (
      await ctr('version').then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  upstream = await startTestServer();
  cache = await startTestServer({
    proxy: { upstreams: [{ name: 'hub', url: upstream.url, allowPrivate: true, dockerHubMirror: true }] },
  });
});

after(async () => {
  await cache?.close();
  await upstream?.close();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('containerd pulls through the cache', { skip }, () => {
  test('ctr content fetch with a hosts.toml mirror gets the image byte-exact, cached under hub/', async () => {
    const img = makeImage({ layers: 2 });
    await pushImage(upstream, 'library/kuratest', img, 'stable');
    const hosts = join(dir, 'certs.d', 'docker.io');
    mkdirSync(hosts, { recursive: true });
    writeFileSync(
      join(hosts, 'hosts.toml'),
      `server = "https://registry-1.docker.io"\n\n[host."${cache.url}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    await ctr('content', 'fetch', '--hosts-dir', join(dir, 'certs.d'), 'docker.io/library/kuratest:stable');
    const held = await ctr('content', 'ls', '-q');
    for (const d of [img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)])
      assert.ok(held.includes(d), `containerd holds ${d}`);
    const tags = await cache.req('GET', '/v2/hub/library/kuratest/tags/list');
    assert.deepEqual(tags.json().tags, ['stable'], 'the cache holds the image under the mirror prefix');
  });
});
