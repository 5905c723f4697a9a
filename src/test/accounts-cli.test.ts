import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startKura } from './kura-process.js';
import { basic, kuraOk, runKura } from './helpers.js';
import { digestOf } from '../oci/digest.js';
import { tempDir } from './tempdirs.js';

async function kuraWithStdin(args: string[], input: string): Promise<{ code: number; out: string }> {
  const r = await runKura(args, { input });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

test('users and CI robots kept in the registry: add, token create, limited rights, expiry, removal', async () => {
  const dataDir = tempDir('kura-accounts-');
  const cfg = join(dataDir, 'kura.yml');
  writeFileSync(cfg, 'auth:\n  accounts: true\n  token:\n    enabled: true\n');
  const kura = (...args: string[]) => kuraOk([...args, '--config', cfg, '--data', dataDir]);
  assert.equal(
    (
      await kuraWithStdin(
        ['user', 'add', 'alice', '--password-stdin', '--config', cfg, '--data', dataDir],
        'correct horse\n',
      )
    ).code,
    0,
  );
  const dup = await kuraWithStdin(
    ['user', 'add', 'alice', '--password-stdin', '--config', cfg, '--data', dataDir],
    'another pw\n',
  );
  assert.equal(dup.code, 1);
  assert.match(dup.out, /account alice exists; change its password instead \("kura user passwd alice"\)/);
  const robot = JSON.parse(
    (
      await kura(
        'token',
        'create',
        '--repo',
        'ci/*',
        '--actions',
        'pull,push',
        '--expires',
        '30d',
        '--name',
        'robot-ci',
        '--json',
      )
    ).stdout,
  );
  assert.equal(robot.username, 'robot-ci');
  const short = JSON.parse((await kura('token', 'create', '--repo', 'ci/*', '--expires', '3s', '--json')).stdout);
  const list = (await kura('user', 'list')).stdout;
  assert.match(list, /^alice\tuser\taccess rules\texpires never$/m);
  assert.match(list, /^robot-ci\trobot\tpull,push on ci\/\*\texpires 20/m);
  assert.doesNotMatch(list, /\$2[aby]\$/, 'no password hashes printed');

  const server = await startKura({ dataDir, args: ['--config', cfg] });
  let bearer = '';
  try {
    const blob = randomBytes(100);
    const up = (repo: string, auth: string) =>
      fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${digestOf(blob)}`, {
        method: 'POST',
        body: blob,
        headers: { authorization: auth },
      });
    assert.equal((await up('ci/app', basic('robot-ci', robot.password))).status, 201);
    assert.equal(
      (await up('prod/app', basic('robot-ci', robot.password))).status,
      403,
      'a robot stays inside its repositories',
    );
    assert.equal((await up('ci/app', basic('robot-ci', 'wrong'))).status, 401);
    assert.equal(
      (await up('prod/app', basic('alice', 'correct horse'))).status,
      201,
      'a user with no rules may do everything',
    );
    await new Promise((r) => setTimeout(r, 3100));
    assert.equal(
      (await up('ci/app', basic(short.username, short.password))).status,
      401,
      'an expired robot is refused',
    );
    // A bearer token of a robot dies with the robot.
    const t = await fetch(`${server.url}/v2/token?service=kura&scope=repository:ci/app:pull`, {
      headers: { authorization: basic('robot-ci', robot.password) },
    });
    bearer = `Bearer ${((await t.json()) as { token: string }).token}`;
    assert.equal(
      (
        await fetch(`${server.url}/v2/ci/app/blobs/${digestOf(blob)}`, {
          method: 'HEAD',
          headers: { authorization: bearer },
        })
      ).status,
      200,
    );
  } finally {
    await server.stop();
  }
  assert.equal((await kura('user', 'rm', 'robot-ci')).stdout, '');
  const trail = JSON.parse((await kura('audit', '--json')).stdout) as {
    action: string;
    reference: string;
    actor: string | null;
  }[];
  assert.deepEqual(
    trail
      .filter((e) => e.actor?.startsWith('cli:'))
      .map((e) => `${e.action} ${e.reference}`)
      .reverse(),
    ['account-add alice', 'robot-create robot-ci', `robot-create ${short.username}`, 'account-remove robot-ci'],
  );
  await assert.rejects(kura('user', 'rm', 'robot-ci'), /no account robot-ci/);
  const again = await startKura({ dataDir, args: ['--config', cfg] });
  try {
    const r = await fetch(`${again.url}/v2/ci/app/blobs/${digestOf(randomBytes(1))}`, {
      method: 'HEAD',
      headers: { authorization: bearer },
    });
    assert.equal(r.status, 401, 'the token of a removed robot is refused although unexpired');
  } finally {
    await again.stop();
  }
});
