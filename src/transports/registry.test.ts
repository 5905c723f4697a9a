import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../http/testkit.js';
import { KURA_MAIN, loadTestImages, makeTestImages, type TestImage } from '../test/kura-process.js';
import { OciLayout, copyImage } from './oci-layout.js';
import { RegistryClient, RegistryRepository } from './registry.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kura-regclient-'));
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);

let images: Map<string, TestImage>;
let open: TestServer;
let token: TestServer;
before(async () => {
  images = await loadTestImages(await makeTestImages());
  open = await startTestServer();
  token = await startTestServer({ auth: { htpasswd, token: { enabled: true } } });
});
after(async () => {
  await open.close();
  await token.close();
});

const host = (ts: TestServer) => new URL(ts.url).host;
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('layout → registry → layout keeps a two-platform index byte-exact; skopeo agrees', async () => {
  const img = images.get('multiarch')!;
  const repo = new RegistryRepository(new RegistryClient({ registry: host(open) }), 'copy/multi');
  const pushed = await copyImage(new OciLayout(img.layout), img.tag, repo, 'v1');
  assert.equal(pushed.digest, img.digest);
  const raw = (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host(open)}/copy/multi:v1`], { encoding: 'buffer' })).stdout as Buffer;
  assert.equal(sha(raw), img.digest);
  assert.deepEqual(await repo.tags(), ['v1']);
  const back = mkdtempSync(join(tmpdir(), 'kura-back-'));
  const pulled = await copyImage(repo, 'v1', new OciLayout(back), 'latest');
  assert.equal(pulled.digest, img.digest);
  await run('skopeo', ['copy', '--all', `oci:${back}:latest`, `oci:${mkdtempSync(join(tmpdir(), 'kura-verify-'))}:x`]);
});

test('the token flow: credentials get a token, none are refused with a line that says what to do', async () => {
  const img = images.get('tiny')!;
  const withCreds = new RegistryRepository(new RegistryClient({ registry: host(token), credentials: { username: 'alice', password: 'alice-pw' } }), 'team/tiny');
  assert.equal((await copyImage(new OciLayout(img.layout), img.tag, withCreds, '1')).digest, img.digest);
  const anon = new RegistryRepository(new RegistryClient({ registry: host(token) }), 'team/tiny');
  await assert.rejects(anon.get('1'), /401 .*log in first/);
});

test('kura copy with skopeo transport names', async () => {
  const img = images.get('layers')!;
  const { stdout } = await run(process.execPath, [KURA_MAIN, 'copy', `oci:${img.layout}:${img.tag}`, `docker://${host(token)}/team/layers:v1`, '--dest-creds', 'alice:alice-pw']);
  assert.equal(stdout.trim(), img.digest);
  const out = mkdtempSync(join(tmpdir(), 'kura-copy-cli-'));
  await run(process.execPath, [KURA_MAIN, 'copy', `docker://${host(token)}/team/layers:v1`, `oci:${out}:v1`, '--src-creds', 'alice:alice-pw']);
  assert.equal((await new OciLayout(out).get('v1')).descriptor.digest, img.digest);
  const bad = await run(process.execPath, [KURA_MAIN, 'copy', `docker://${host(token)}/team/layers:v1`, `oci:${out}:v2`]).catch((e: { code: number; stderr: string }) => e);
  assert.equal((bad as { code: number }).code, 1);
  assert.match((bad as { stderr: string }).stderr, /^kura: error: .*401.*log in first/m);
});

test('an unreachable registry is one line naming the address and the fix', async () => {
  // A port that was free a moment ago: nothing listens there.
  const { createServer } = await import('node:net');
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  const repo = new RegistryRepository(new RegistryClient({ registry: `127.0.0.1:${port}` }), 'x/y');
  await assert.rejects(repo.get('latest'), new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); check the address`));
});
