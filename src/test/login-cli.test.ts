import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from './testkit.js';
import { randomImage } from '../oci/random.js';
import { MemoryImages } from '../transports/memory.js';
import { OciLayout } from '../transports/layout/index.js';
import { runKura } from './helpers.js';
import { tempDir } from './tempdirs.js';

const root = tempDir('kura-login-');
const htpasswd = join(root, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
const bin = join(root, 'bin');
mkdirSync(bin);
// A credential helper that records what it is asked to store, in $KURATEST_STORE.
writeFileSync(
  join(bin, 'docker-credential-kuratest'),
  `#!/bin/sh\nif [ "$1" = store ]; then cat > "$KURATEST_STORE"; exit 0; fi\nif [ "$1" = erase ]; then rm -f ` +
    `"$KURATEST_STORE"; exit 0; fi\necho "credentials not found in native keychain"; exit 1\n`,
);
chmodSync(join(bin, 'docker-credential-kuratest'), 0o755);

let basic: TestServer;
let token: TestServer;
let layout: string;
before(async () => {
  basic = await startTestServer({ shutdown: { timeout: '2s' }, auth: { htpasswd } });
  token = await startTestServer({ shutdown: { timeout: '2s' }, auth: { htpasswd, token: { enabled: true } } });
  layout = join(root, 'layout');
  const mem = new MemoryImages();
  await mem.write('x', await randomImage({ seed: 121 }));
  await new OciLayout(layout).write('v1', await mem.get('x'));
});
after(async () => {
  await basic.close();
  await token.close();
});

let n = 0;
function home() {
  const dir = join(root, `home${++n}`);
  mkdirSync(dir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    HOME: dir,
    DOCKER_CONFIG: join(dir, 'docker'),
    XDG_CONFIG_HOME: join(dir, 'xdg'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    KURATEST_STORE: join(dir, 'stored.json'),
  };
  delete env.REGISTRY_AUTH_FILE;
  return { dir, env, config: join(dir, 'docker', 'config.json') };
}

const kura = (args: string[], env: NodeJS.ProcessEnv, input?: string) => runKura(args, { env, input });

for (const [name, server] of [
  ['Basic', () => basic],
  ['token', () => token],
] as const) {
  test(
    `kura login (${name}): a wrong password fails and writes nothing; the right one is saved 0600 keeping other ` +
      `keys; logout removes it`,
    async () => {
      const host = new URL(server().url).host;
      const h = home();
      const bad = await kura(['login', host, '-u', 'alice', '--password-stdin'], h.env, 'wrong\n');
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        new RegExp(
          `^kura: error: login to ${host.replace(/\./g, '\\.')} failed: the registry refused the credentials of ` +
            `"alice"; nothing was saved\\n$`,
        ),
      );
      assert.equal(existsSync(h.config), false);

      mkdirSync(join(h.dir, 'docker'));
      writeFileSync(h.config, JSON.stringify({ auths: { 'other.test': { auth: 'eDp5' } }, psFormat: 'table {{.ID}}' }));
      const ok = await kura(['login', host, '-u', 'alice', '--password-stdin'], h.env, 'alice-pw\n');
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'Login Succeeded\n');
      assert.doesNotMatch(ok.stderr, /alice-pw/);
      const doc = JSON.parse(readFileSync(h.config, 'utf8'));
      assert.equal(doc.psFormat, 'table {{.ID}}');
      assert.equal(doc.auths['other.test'].auth, 'eDp5');
      assert.equal(doc.auths[host].auth, Buffer.from('alice:alice-pw').toString('base64'));
      assert.equal(statSync(h.config).mode & 0o777, 0o600);

      // The saved credentials are used by every registry command.
      const push = await kura(['copy', '-q', `oci:${layout}:v1`, `docker://${host}/team/login:v1`], h.env);
      assert.equal(push.code, 0, push.stderr);

      const out = await kura(['logout', host], h.env);
      assert.equal(out.stdout, `Removing login credentials for ${host}\n`);
      assert.equal(JSON.parse(readFileSync(h.config, 'utf8')).auths[host], undefined);
      assert.equal(JSON.parse(readFileSync(h.config, 'utf8')).auths['other.test'].auth, 'eDp5');
      const denied = await kura(
        ['copy', '-q', `docker://${host}/team/login:v1`, `oci:${join(h.dir, 'out')}:v1`],
        h.env,
      );
      assert.equal(denied.code, 1);
      assert.match(
        denied.stderr,
        new RegExp(`401 from ${host.replace(/\./g, '\\.')}: run "kura login ${host.replace(/\./g, '\\.')}" first\\n$`),
      );
      assert.equal((await kura(['logout', host], h.env)).stdout, `Not logged in to ${host}\n`);
    },
  );
}

test('kura login -p warns, and a configured credsStore gets the secret instead of config.json', async () => {
  const host = new URL(token.url).host;
  const h = home();
  mkdirSync(join(h.dir, 'docker'));
  writeFileSync(h.config, JSON.stringify({ credsStore: 'kuratest' }));
  const ok = await kura(['login', `http://${host}`, '-u', 'alice', '-p', 'alice-pw'], h.env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /WARNING! Using --password via the CLI is insecure\. Use --password-stdin\./);
  assert.deepEqual(JSON.parse(readFileSync(join(h.dir, 'stored.json'), 'utf8')), {
    ServerURL: host,
    Username: 'alice',
    Secret: 'alice-pw',
  });
  assert.deepEqual(JSON.parse(readFileSync(h.config, 'utf8')), { credsStore: 'kuratest', auths: { [host]: {} } });
  const missing = await kura(['login', host, '--password-stdin'], h.env, 'x');
  assert.match(missing.stderr, /give the user name with -u USER/);
});
