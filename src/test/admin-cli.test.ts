import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { selfSignedCert } from './distribution.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner, kuraFailsRunner } from './helpers.js';
import { tempDirs } from './tempdirs.js';

const run = promisify(execFile);
const tmp = tempDirs('kura-admin-cli-');
const dir = tmp();
// No stored credentials: only --creds counts.
const env = {
  ...process.env,
  DOCKER_CONFIG: join(dir, 'docker'),
  REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
  XDG_RUNTIME_DIR: dir,
  XDG_CONFIG_HOME: dir,
};
const kura = kuraRunner({ env });
const kuraFails = kuraFailsRunner({ env });

let k: KuraProcess;
before(async () => {
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);
  const { cert, key } = selfSignedCert(dir, 'kura-admin');
  const config = join(dir, 'kura.yml');
  writeFileSync(
    config,
    [
      'auth:',
      `  htpasswd: ${htpasswd}`,
      '  token:',
      '    enabled: true',
      '  rules:',
      '    - users: [alice]',
      '      repositories: ["**"]',
      '      actions: [admin]',
      '    - users: [bob]',
      '      repositories: ["**"]',
      '      actions: [pull]',
      'tls:',
      `  cert: ${cert}`,
      `  key: ${key}`,
      '',
    ].join('\n'),
  );
  k = await startKura({ args: ['--config', config] });
});
after(() => k.stop());

test(
  'usage and audit --server take --creds and --insecure against an authenticated, self-signed kura ' + 'serve',
  async () => {
    const usage = JSON.parse(
      (await kura('usage', '--server', k.url, '--insecure', '--creds', 'alice:alice-pw', '--json')).stdout,
    ) as { total: { blobs: number } };
    assert.equal(usage.total.blobs, 0);
    const audit = JSON.parse(
      (await kura('audit', '--server', k.url, '--insecure', '--creds', 'alice:alice-pw', '--json', '--limit', '5'))
        .stdout,
    ) as unknown[];
    assert.ok(Array.isArray(audit));

    const noCreds = await kuraFails('usage', '--server', k.url, '--insecure');
    assert.match(
      noCreds.stderr,
      new RegExp(`^kura: error: GET ${k.url}/admin/v1/usage: 401 from ${k.host}: run "kura login ${k.host}" first\\n$`),
    );
    const notAdmin = await kuraFails('audit', '--server', k.url, '--insecure', '--creds', 'bob:bob-pw');
    assert.match(
      notAdmin.stderr,
      /^kura: error: https:\/\/\S+ answered 403 to GET \/admin\/v1\/audit: bob may not admin/,
    );
    const untrusted = await kuraFails('audit', '--server', k.url, '--creds', 'alice:alice-pw');
    assert.match(
      untrusted.stderr,
      /^kura: error: .*TLS certificate of 127\.0\.0\.1:\d+ is not trusted .*use --insecure/,
    );
  },
);
