import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../../test/testkit.js';
import { randomImage } from '../../oci/random.js';
import { eraseCredentials, storeCredentials } from './credentials-store.js';
import { Keychain, normalizeServerKey } from './credentials.js';
import { RegistryClient } from './client.js';

const root = mkdtempSync(join(tmpdir(), 'kura-creds-'));
const bin = join(root, 'bin');
mkdirSync(bin);
// A real credential helper speaking docker's protocol, keeping its secrets in $KURATEST_STORE.
const HELPER = `#!/usr/bin/env node
const fs = require('fs');
const store = process.env.KURATEST_STORE;
const action = process.argv[2];
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const db = fs.existsSync(store) ? JSON.parse(fs.readFileSync(store, 'utf8')) : {};
  const server = action === 'store' ? JSON.parse(input).ServerURL : input.trim();
  fs.appendFileSync(store + '.log', action + ' ' + server + '\\n');
  if (action === 'get') {
    const e = db[input.trim()];
    if (!e) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    process.stdout.write(JSON.stringify({ ServerURL: input.trim(), Username: e.Username, Secret: e.Secret }));
  } else if (action === 'store') {
    const e = JSON.parse(input);
    db[e.ServerURL] = { Username: e.Username, Secret: e.Secret };
    fs.writeFileSync(store, JSON.stringify(db));
  } else if (action === 'erase') {
    delete db[input.trim()];
    fs.writeFileSync(store, JSON.stringify(db));
  } else process.exit(2);
});
`;
writeFileSync(join(bin, 'docker-credential-kuratest'), HELPER);
chmodSync(join(bin, 'docker-credential-kuratest'), 0o755);

let n = 0;
/** A fresh HOME with its own docker config dir, helper store and XDG dirs. */
function home(): { env: NodeJS.ProcessEnv; dir: string; store: string; config: string } {
  const dir = join(root, `home${++n}`);
  mkdirSync(join(dir, '.docker'), { recursive: true });
  const store = join(dir, 'helper-store.json');
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: dir,
    KURATEST_STORE: store,
    XDG_CONFIG_HOME: join(dir, 'xdg'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
  };
  return { env, dir, store, config: join(dir, '.docker', 'config.json') };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('server keys: scheme, /v1/ and Docker Hub aliases normalised', () => {
  assert.equal(normalizeServerKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeServerKey('registry-1.docker.io'), 'docker.io');
  assert.equal(normalizeServerKey('http://reg.test:5000'), 'reg.test:5000');
  assert.equal(normalizeServerKey('https://Reg.Test/v2/'), 'reg.test');
  assert.equal(normalizeServerKey('quay.io/team/app'), 'quay.io/team/app');
});

test('config.json auths: base64 auth, username/password, identitytoken, under any key form', async () => {
  const h = home();
  writeFileSync(
    h.config,
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pw') },
        'http://reg.test:5000': { username: 'bob', password: 'bob-pw' },
        'https://tok.test/v1/': { identitytoken: 'refresh-me' },
        'empty.test': {},
      },
    }),
  );
  const k = new Keychain({ env: h.env });
  assert.deepEqual(await k.resolve('docker.io'), { username: 'hubuser', password: 'hub:pw' });
  assert.deepEqual(await k.resolve('reg.test:5000'), { username: 'bob', password: 'bob-pw' });
  assert.deepEqual(await k.resolve('tok.test', 'x/y'), { identityToken: 'refresh-me' });
  assert.equal(await k.resolve('empty.test'), undefined);
  assert.equal(await k.resolve('other.test'), undefined);
});

test('credHelpers (exact host) win over credsStore, which wins over auths; "not found" falls through', async () => {
  const h = home();
  writeFileSync(
    h.store,
    JSON.stringify({
      'helper.test': { Username: 'helped', Secret: 's1' },
      'https://index.docker.io/v1/': { Username: '<token>', Secret: 'idtok' },
    }),
  );
  writeFileSync(
    h.config,
    JSON.stringify({
      credHelpers: { 'helper.test': 'kuratest' },
      credsStore: 'kuratest',
      auths: { 'helper.test': { auth: b64('file:pw') }, 'plain.test': { auth: b64('plain:pw') } },
    }),
  );
  const k = new Keychain({ env: h.env });
  assert.deepEqual(await k.resolve('helper.test'), { username: 'helped', password: 's1' });
  assert.deepEqual(await k.resolve('docker.io'), { identityToken: 'idtok' });
  assert.deepEqual(await k.resolve('plain.test'), { username: 'plain', password: 'pw' });
  assert.equal(await k.resolve('nothing.test'), undefined);
  const log = readFileSync(`${h.store}.log`, 'utf8');
  assert.match(log, /^get helper\.test$/m);
  assert.match(log, /^get https:\/\/index\.docker\.io\/v1\/$/m);
});

test('a helper that is not installed is an error naming it', async () => {
  const h = home();
  writeFileSync(h.config, JSON.stringify({ credsStore: 'nosuchhelper' }));
  await assert.rejects(new Keychain({ env: h.env }).resolve('x.test'), /docker-credential-nosuchhelper is not on PATH/);
});

test("a failing helper's error gives its exit code and stderr, never what it printed on stdout", async () => {
  const h = home();
  const leaky = join(bin, 'docker-credential-leaky');
  writeFileSync(
    leaky,
    '#!/bin/sh\nprintf \'{"Username":"u","Secret":"s3cr3t-from-stdout"}\\n\'\necho "keychain is locked" >&2\nexit 3\n',
  );
  chmodSync(leaky, 0o755);
  writeFileSync(h.config, JSON.stringify({ credHelpers: { 'leak.test': 'leaky' } }));
  await assert.rejects(new Keychain({ env: h.env }).resolve('leak.test'), (e: Error) => {
    assert.equal(e.message, 'docker-credential-leaky get failed (exit 3): keychain is locked');
    assert.doesNotMatch(e.message, /s3cr3t/);
    return true;
  });
});

test('auth.json files come first, and their namespaces match most specific first', async () => {
  const h = home();
  writeFileSync(
    h.config,
    JSON.stringify({ auths: { 'ns.test': { auth: b64('docker:pw') }, 'only-docker.test': { auth: b64('d:pw') } } }),
  );
  mkdirSync(join(h.dir, 'run', 'containers'), { recursive: true });
  writeFileSync(
    join(h.dir, 'run', 'containers', 'auth.json'),
    JSON.stringify({
      auths: {
        'ns.test/team/app': { auth: b64('app:pw') },
        'ns.test/team': { auth: b64('team:pw') },
        'ns.test': { auth: b64('host:pw') },
      },
    }),
  );
  const k = new Keychain({ env: h.env });
  assert.equal((await k.resolve('ns.test', 'team/app'))?.username, 'app');
  assert.equal((await k.resolve('ns.test', 'team/app/sub'))?.username, 'app');
  assert.equal((await k.resolve('ns.test', 'team/other'))?.username, 'team');
  assert.equal((await k.resolve('ns.test', 'solo/x'))?.username, 'host');
  assert.equal((await k.resolve('only-docker.test'))?.username, 'd');
  // $REGISTRY_AUTH_FILE comes before everything else; ~/.dockercfg after everything else.
  const file = join(h.dir, 'auth-file.json');
  writeFileSync(file, JSON.stringify({ auths: { 'ns.test': { auth: b64('env:pw') } } }));
  writeFileSync(
    join(h.dir, '.dockercfg'),
    JSON.stringify({ 'https://legacy.test': { auth: b64('old:pw'), email: 'x@y' } }),
  );
  const k2 = new Keychain({ env: { ...h.env, REGISTRY_AUTH_FILE: file } });
  assert.equal((await k2.resolve('ns.test', 'solo/x'))?.username, 'env');
  assert.equal((await k2.resolve('legacy.test'))?.username, 'old');
});

test('storing keeps every other key, writes 0600 atomically, and uses the configured helper', async () => {
  const h = home();
  writeFileSync(
    h.config,
    JSON.stringify({
      auths: { 'keep.test': { auth: b64('k:pw') } },
      HttpHeaders: { 'X-Meta': '1' },
      psFormat: 'table',
    }),
  );
  assert.equal(await storeCredentials('reg.test:5000', 'alice', 'alice-pw', { env: h.env }), h.config);
  const doc = JSON.parse(readFileSync(h.config, 'utf8'));
  assert.deepEqual(doc.HttpHeaders, { 'X-Meta': '1' });
  assert.equal(doc.psFormat, 'table');
  assert.equal(doc.auths['keep.test'].auth, b64('k:pw'));
  assert.equal(doc.auths['reg.test:5000'].auth, b64('alice:alice-pw'));
  assert.equal(statSync(h.config).mode & 0o777, 0o600);
  assert.deepEqual(await new Keychain({ env: h.env }).resolve('reg.test:5000'), {
    username: 'alice',
    password: 'alice-pw',
  });
  assert.equal(await eraseCredentials('reg.test:5000', { env: h.env }), true);
  assert.equal(JSON.parse(readFileSync(h.config, 'utf8')).auths['reg.test:5000'], undefined);
  assert.equal(await eraseCredentials('reg.test:5000', { env: h.env }), false);

  // With a credsStore, the secret goes to the helper and config.json keeps an empty entry.
  writeFileSync(h.config, JSON.stringify({ credsStore: 'kuratest' }));
  assert.match(await storeCredentials('docker.io', 'hubuser', 'hub-pw', { env: h.env }), /docker-credential-kuratest/);
  assert.deepEqual(JSON.parse(readFileSync(h.config, 'utf8')).auths, { 'https://index.docker.io/v1/': {} });
  assert.deepEqual(JSON.parse(readFileSync(h.store, 'utf8'))['https://index.docker.io/v1/'], {
    Username: 'hubuser',
    Secret: 'hub-pw',
  });
  assert.deepEqual(await new Keychain({ env: h.env }).resolve('docker.io'), {
    username: 'hubuser',
    password: 'hub-pw',
  });
  await eraseCredentials('docker.io', { env: h.env });
  assert.equal(JSON.parse(readFileSync(h.store, 'utf8'))['https://index.docker.io/v1/'], undefined);
  assert.equal(existsSync(h.config), true);
});

test(
  'login to docker.io stores through a credHelpers entry keyed "https://index.docker.io/v1/", as lookups read ' +
    'it; logout erases it there',
  async () => {
    const h = home();
    // credsStore names a helper that does not exist: using it instead of the Hub entry would fail.
    writeFileSync(
      h.config,
      JSON.stringify({ credHelpers: { 'https://index.docker.io/v1/': 'kuratest' }, credsStore: 'nosuchhelper' }),
    );
    // What `kura login docker.io` (and `kura login https://index.docker.io/v1/`) call once the registry accepted the
    // credentials.
    assert.match(
      await storeCredentials('docker.io', 'hubuser', 'hub-pw', { env: h.env }),
      /docker-credential-kuratest/,
    );
    assert.deepEqual(JSON.parse(readFileSync(h.store, 'utf8'))['https://index.docker.io/v1/'], {
      Username: 'hubuser',
      Secret: 'hub-pw',
    });
    const doc = JSON.parse(readFileSync(h.config, 'utf8'));
    assert.deepEqual(doc.auths, { 'https://index.docker.io/v1/': {} }, 'no secret in config.json');
    assert.deepEqual(doc.credHelpers, { 'https://index.docker.io/v1/': 'kuratest' });
    assert.deepEqual(await new Keychain({ env: h.env }).resolve('docker.io'), {
      username: 'hubuser',
      password: 'hub-pw',
    });
    assert.match(
      await storeCredentials('https://index.docker.io/v1/', 'hubuser', 'hub-pw2', { env: h.env }),
      /docker-credential-kuratest/,
    );
    assert.equal(JSON.parse(readFileSync(h.store, 'utf8'))['https://index.docker.io/v1/'].Secret, 'hub-pw2');
    assert.equal(await eraseCredentials('docker.io', { env: h.env }), true);
    assert.equal(JSON.parse(readFileSync(h.store, 'utf8'))['https://index.docker.io/v1/'], undefined);
    assert.match(
      readFileSync(`${h.store}.log`, 'utf8'),
      /^store https:\/\/index\.docker\.io\/v1\/\n.*\nstore https:\/\/index\.docker\.io\/v1\/\nerase https:\/\/index\.docker\.io\/v1\/$/ms,
    );
  },
);

let server: TestServer;
before(async () => {
  const htpasswd = join(root, 'htpasswd');
  writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
  server = await startTestServer({ shutdown: { timeout: '2s' }, auth: { htpasswd, token: { enabled: true } } });
});
after(async () => {
  await server.close();
});

test(
  'a registry client takes its credentials from the keychain, including an identity token (OAuth2 refresh ' + 'grant)',
  async () => {
    const host = new URL(server.url).host;
    const h = home();
    writeFileSync(h.config, JSON.stringify({ credHelpers: { [host]: 'kuratest' } }));
    writeFileSync(h.store, JSON.stringify({ [host]: { Username: 'alice', Secret: 'alice-pw' } }));
    const src = await randomImage({ seed: 111 });
    await new RegistryClient({ registry: host, keychain: new Keychain({ env: h.env }) })
      .repository('team/kc')
      .write('v1', src);
    // An identity token as docker login keeps it: a refresh token from the password grant.
    const form = new URLSearchParams({
      grant_type: 'password',
      username: 'alice',
      password: 'alice-pw',
      access_type: 'offline',
      client_id: 'test',
      service: host,
    });
    const res = await fetch(`${server.url}/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const refresh = ((await res.json()) as { refresh_token: string }).refresh_token;
    assert.ok(refresh);
    writeFileSync(h.store, JSON.stringify({ [host]: { Username: '<token>', Secret: refresh } }));
    const viaToken = new RegistryClient({ registry: host, keychain: new Keychain({ env: h.env }) }).repository(
      'team/kc',
    );
    assert.deepEqual((await viaToken.get('v1')).manifest, src.manifest);
    writeFileSync(h.store, JSON.stringify({ [host]: { Username: '<token>', Secret: 'not-a-refresh-token' } }));
    await assert.rejects(
      new RegistryClient({ registry: host, keychain: new Keychain({ env: h.env }) }).repository('team/kc').get('v1'),
      /401 from .*: the credentials were refused; pass the right credentials/,
    );
  },
);
