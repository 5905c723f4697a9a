import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { startProxy, type Proxy } from './http-proxy.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { tempDirs } from './tempdirs.js';
import { kuraFailsRunner } from './helpers.js';

const dir = tempDirs('kura-push-rights-')();
const env = {
  ...process.env,
  DOCKER_CONFIG: join(dir, 'docker'),
  REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
  XDG_RUNTIME_DIR: dir,
  XDG_CONFIG_HOME: dir,
};
const kuraFails = kuraFailsRunner({ env });

let k: KuraProcess;
let proxy: Proxy;
before(async () => {
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);
  const config = join(dir, 'kura.yml');
  writeFileSync(
    config,
    [
      'auth:',
      `  htpasswd: ${htpasswd}`,
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
  k = await startKura({ args: ['--config', config] });
  proxy = await startProxy(k.url);
  await new RegistryClient({ registry: k.host, credentials: { username: 'alice', password: 'alice-pw' } })
    .repository('team/app')
    .write('v1', await randomImage({ seed: 91, layers: 2 }));
});
after(async () => {
  await proxy.close();
  await k.stop();
});

test('a pull-only account is refused before any blob is looked at or sent', async () => {
  proxy.seen.length = 0;
  const e = await kuraFails(
    'copy',
    '-q',
    '--src-creds',
    'bob:bob-pw',
    '--dest-creds',
    'bob:bob-pw',
    `docker://${k.host}/team/app:v1`,
    `docker://${proxy.host}/team/copy:v1`,
  );
  assert.equal(e.code, 1);
  assert.match(
    e.stderr,
    new RegExp(
      `^kura: error: push to ${proxy.host}/team/copy: 403 from ${proxy.host}: the account for "bob" may not do ` +
        `this; ask for access, or pass another account with --dest-creds\\n$`,
    ),
  );
  assert.deepEqual(
    proxy.seen.filter((s) => s.url.startsWith('/v2/team/copy/')).map((s) => s.method),
    ['POST', 'POST'],
    'only the probe (and its answer to the challenge): no HEAD of a blob, no upload, no manifest',
  );
});

test('wrong --dest-creds are named as such, not "run kura login"', async () => {
  const e = await kuraFails(
    'copy',
    '-q',
    '--src-creds',
    'alice:alice-pw',
    '--dest-creds',
    'alice:wrong',
    `docker://${k.host}/team/app:v1`,
    `docker://${k.host}/team/other:v1`,
  );
  assert.match(
    e.stderr,
    new RegExp(
      `401 from ${k.host}: the credentials for "alice" given with --dest-creds were refused; check --dest-creds\\n$`,
    ),
  );
  assert.doesNotMatch(e.stderr, /kura login/);
  const src = await kuraFails(
    'copy',
    '-q',
    '--src-creds',
    'alice:nope',
    `docker://${k.host}/team/app:v1`,
    `oci:${join(dir, 'layout')}:v1`,
  );
  assert.match(src.stderr, /given with --src-creds were refused; check --src-creds/);
});
