import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { loadTestImages, makeTestImages, startKura, type KuraProcess, type TestImage } from './kura-process.js';
import { tempDir } from './tempdirs.js';
import { runTool } from './helpers.js';

/** skopeo and podman logging in to kura serve with htpasswd Basic auth and with the token service. */
const work = tempDir('kura-auth-clients-');
const htpasswd = join(work, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);

function config(token: boolean): string {
  const file = join(work, token ? 'token.yml' : 'basic.yml');
  writeFileSync(
    file,
    [
      'auth:',
      `  htpasswd: ${htpasswd}`,
      ...(token ? ['  token:', '    enabled: true'] : []),
      '  rules:',
      '    - users: [alice]',
      '      repositories: ["**"]',
      '      actions: [admin]',
      '    - users: [bob]',
      '      repositories: ["**"]',
      '      actions: [pull]',
      '',
    ].join('\n'),
  );
  return file;
}

/** A client command, with HOME and the auth file in the test's directory; stdout and stderr as one text. */
async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const env = { ...process.env, HOME: work, REGISTRY_AUTH_FILE: join(work, 'auth.json') };
  const r = await runTool(cmd, args, { timeoutMs: 60_000, env });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

let tiny: TestImage;
before(async () => {
  tiny = (await loadTestImages(await makeTestImages())).get('tiny')!;
});

for (const mode of ['basic', 'token'] as const) {
  describe(`real clients with ${mode} authentication`, () => {
    let server: KuraProcess;
    before(async () => {
      server = await startKura({ args: ['--config', config(mode === 'token')] });
    });
    after(async () => {
      await server.stop();
    });

    test('skopeo pushes and reads with credentials, is refused without or with a read-only user', async () => {
      const dest = `docker://${server.host}/${mode}/tiny:1`;
      const denied = await run('skopeo', ['copy', '--dest-tls-verify=false', tiny.ociRef, dest]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.out, /unauthorized|authentication required|denied/i);
      const ro = await run('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'bob:bob-pw',
        tiny.ociRef,
        dest,
      ]);
      assert.notEqual(ro.code, 0);
      assert.match(ro.out, /denied|unauthorized/i);
      const ok = await run('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'alice:alice-pw',
        tiny.ociRef,
        dest,
      ]);
      assert.equal(ok.code, 0, ok.out);
      const inspect = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'bob:bob-pw', dest]);
      assert.equal(inspect.code, 0, inspect.out);
      assert.equal(JSON.parse(inspect.out).Architecture, 'amd64');
      const wrong = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'bob:nope', dest]);
      assert.notEqual(wrong.code, 0);
      const del = await run('skopeo', ['delete', '--tls-verify=false', '--creds', 'bob:bob-pw', dest]);
      assert.notEqual(del.code, 0, 'bob may not delete');
    });

    test('podman login, push and pull', async () => {
      const storage = [
        '--root',
        join(work, `${mode}-root`),
        '--runroot',
        join(work, `${mode}-run`),
        '--storage-driver',
        'vfs',
        '--cgroup-manager',
        'cgroupfs',
      ];
      const login = await run('podman', [
        ...storage,
        'login',
        '--tls-verify=false',
        '-u',
        'alice',
        '-p',
        'alice-pw',
        server.host,
      ]);
      assert.equal(login.code, 0, login.out);
      assert.equal((await run('podman', [...storage, 'pull', tiny.ociRef])).code, 0);
      const ref = `${server.host}/${mode}/podman:1`;
      const img = await run('podman', [...storage, 'images', '-q']);
      const id = img.out.trim().split('\n')[0]!;
      assert.equal((await run('podman', [...storage, 'tag', id, ref])).code, 0);
      const pushed = await run('podman', [...storage, 'push', '--tls-verify=false', ref]);
      assert.equal(pushed.code, 0, pushed.out);
      assert.equal((await run('podman', [...storage, 'logout', server.host])).code, 0);
      const anon = await run('podman', [...storage, 'pull', '--tls-verify=false', ref]);
      assert.notEqual(anon.code, 0, 'logged out: no anonymous pulls');
    });

    test('buildah login and push of an image built from scratch', async () => {
      const storage = [
        '--root',
        join(work, `${mode}-broot`),
        '--runroot',
        join(work, `${mode}-brun`),
        '--storage-driver',
        'vfs',
      ];
      const file = join(work, `${mode}-hello.txt`);
      writeFileSync(file, `hello ${mode}\n`);
      const ctr = (await run('buildah', [...storage, 'from', 'scratch'])).out.trim().split('\n').pop()!;
      assert.equal((await run('buildah', [...storage, 'copy', ctr, file, '/hello.txt'])).code, 0);
      assert.equal((await run('buildah', [...storage, 'commit', '-q', ctr, `${mode}-built`])).code, 0);
      const login = await run('buildah', [
        ...storage,
        'login',
        '--tls-verify=false',
        '-u',
        'alice',
        '-p',
        'alice-pw',
        server.host,
      ]);
      assert.equal(login.code, 0, login.out);
      const pushed = await run('buildah', [
        ...storage,
        'push',
        '--tls-verify=false',
        `${mode}-built`,
        `docker://${server.host}/${mode}/built:1`,
      ]);
      assert.equal(pushed.code, 0, pushed.out);
      const tags = await run('skopeo', [
        'list-tags',
        '--tls-verify=false',
        '--creds',
        'bob:bob-pw',
        `docker://${server.host}/${mode}/built`,
      ]);
      assert.deepEqual(JSON.parse(tags.out).Tags, ['1']);
    });
  });
}
