import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { runKura } from './helpers.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { digestOf } from '../oci/digest.js';
import { tempDir } from './tempdirs.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

const kura = (...args: string[]) => runKura(args, { env: { ...process.env, HOME: tmpdir() } });

async function seed(s: KuraProcess, authorization?: string): Promise<string> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const put = async (repo: string, tag: string) => {
    const config = Buffer.from(JSON.stringify({ tag, n: randomBytes(4).toString('hex') }));
    const layer = randomBytes(500);
    for (const b of [config, layer]) {
      const r = await fetch(`${s.url}/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, {
        method: 'POST',
        body: new Uint8Array(b),
        headers,
      });
      assert.equal(r.status, 201);
    }
    const m = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: digestOf(config),
          size: config.length,
        },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
      }),
    );
    const r = await fetch(`${s.url}/v2/${repo}/manifests/${tag}`, {
      method: 'PUT',
      body: new Uint8Array(m),
      headers: { ...headers, 'content-type': OCI },
    });
    assert.equal(r.status, 201);
  };
  for (const t of ['v1', 'v2', 'v3']) await put('team/app', t);
  // One blob nothing references.
  const loose = randomBytes(700);
  const r = await fetch(`${s.url}/v2/team/app/blobs/uploads/?digest=${digestOf(loose)}`, {
    method: 'POST',
    body: new Uint8Array(loose),
    headers,
  });
  assert.equal(r.status, 201);
  return digestOf(loose);
}

test(
  'kura gc --dry-run, fsck, policy plan, usage and audit on a data directory give the same output with its ' +
    'server running and stopped',
  async () => {
    const dir = await tempDir('kura-admin-cli-');
    const cfg = join(dir, 'kura.yaml');
    await writeFile(
      cfg,
      [
        'gc:',
        '  grace: 0s',
        '  allowShortGrace: true',
        '  interval: 0',
        'retention:',
        '  rules:',
        '    - repositories: ["team/*"]',
        '      keepLast: 1',
        '',
      ].join('\n'),
    );
    const server = await startKura({ dataDir: join(dir, 'data'), args: ['-c', cfg] });
    try {
      const loose = await seed(server);
      // Writes need an admin: with authentication off the server refuses them, in one line.
      const gc = await kura('gc', '-c', cfg, '--data', server.dataDir);
      assert.notEqual(gc.code, 0);
      assert.match(gc.stderr, /^kura: error: .*403.*authentication is off/m);
      const cmds = [['gc', '--dry-run'], ['fsck'], ['policy', 'plan'], ['usage'], ['audit']].map((c) => [
        ...c,
        '-c',
        cfg,
        '--data',
        server.dataDir,
      ]);
      const running = [];
      for (const c of cmds) running.push(await kura(...c));
      assert.equal(running[0]!.code, 0, running[0]!.stderr);
      assert.match(running[0]!.stdout, new RegExp(loose));
      assert.equal(running[1]!.code, 0, running[1]!.stderr);
      assert.match(running[1]!.stderr, /clean/);
      assert.equal(running[2]!.code, 0, running[2]!.stderr);
      assert.match(running[2]!.stdout, /team\/app/);
      assert.match(running[3]!.stdout, /team\/app/);
      assert.match(running[4]!.stdout, /\tpush\tteam\/app\tv1\t201/);
      await server.stop();
      for (let i = 0; i < cmds.length; i++) {
        const stopped = await kura(...cmds[i]!);
        assert.deepEqual(stopped, running[i], `kura ${cmds[i]!.join(' ')}`);
      }
    } finally {
      await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('kura gc and policy apply through --server with admin credentials', async () => {
  const dir = await tempDir('kura-admin-cli-');
  const htpasswd = join(dir, 'htpasswd');
  await writeFile(htpasswd, `root:${bcrypt.hashSync('root-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);
  const cfg = join(dir, 'kura.yaml');
  await writeFile(
    cfg,
    [
      'auth:',
      `  htpasswd: ${htpasswd}`,
      '  admins: [root]',
      'gc:',
      '  grace: 0s',
      '  allowShortGrace: true',
      '  interval: 0',
      'retention:',
      '  rules:',
      '    - repositories: ["team/*"]',
      '      keepLast: 1',
      '',
    ].join('\n'),
  );
  const server = await startKura({ dataDir: join(dir, 'data'), args: ['-c', cfg] });
  try {
    const loose = await seed(server, 'Basic ' + Buffer.from('root:root-pw').toString('base64'));
    const denied = await kura('gc', '--server', server.url, '--creds', 'bob:bob-pw');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /kura: error: .*403/);
    const apply = await kura('policy', 'apply', '--server', server.url, '--creds', 'root:root-pw');
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stderr, /removed 2/);
    const gc = await kura('gc', '--server', server.url, '--creds', 'root:root-pw');
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, new RegExp(loose));
    const tags = await fetch(`${server.url}/v2/team/app/tags/list`, {
      headers: { authorization: 'Basic ' + Buffer.from('root:root-pw').toString('base64') },
    });
    assert.deepEqual((await tags.json()).tags, ['v3']);
  } finally {
    await server.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});
