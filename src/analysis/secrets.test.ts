import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findSecrets, secretAssignments } from './secrets.js';

const kinds = (path: string, text: string) => findSecrets(path, Buffer.from(text)).map((h) => `${h.kind}@${h.line}`);

test('secret kinds in file contents, with their line', () => {
  const body = 'MIIEowIBAAKCAQEAvK3q9Zx0f8kq2n5b6mQ1c7dVx3WkZr0hN4p8sT2yL6uJ9aXe\n';
  assert.deepEqual(kinds('k.pem', `x\n-----BEGIN RSA PRIVATE KEY-----\n${body}`), ['private-key@2']);
  assert.deepEqual(
    kinds('k.pem', `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,1F2E\n\n${body}`),
    ['private-key@1'],
    'PEM headers before the body',
  );
  assert.deepEqual(kinds('k', `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}`), ['private-key@1']);
  assert.deepEqual(kinds('k', `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${body}`), ['private-key@1']);
  assert.deepEqual(
    kinds(
      'ssh.py',
      '_SK_START = b"-----BEGIN OPENSSH PRIVATE KEY-----"\n_SK_END = b"-----END OPENSSH PRIVATE KEY-----"\n',
    ),
    [],
    'the marker in a library’s code is no key',
  );
  assert.deepEqual(kinds('k', '-----BEGIN PUBLIC KEY-----\n'), [], 'a public key is no secret');
  assert.deepEqual(kinds('c', 'id = AKIAQWERTYUIOPASDF12\n'), ['aws-access-key-id@1']);
  assert.deepEqual(kinds('c', 'aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEYq\n'), [
    'aws-secret-access-key@1',
  ]);
  assert.deepEqual(
    kinds(
      'sa.json',
      `{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN PRIVATE ` +
        `KEY-----\\n${body.trim()}\\n"}`,
    ),
    ['private-key@1', 'gcp-service-account-key@1'],
  );
  assert.deepEqual(kinds('x', `a\nb ghp_${'a'.repeat(36)}\n`), ['github-token@2']);
  assert.deepEqual(kinds('x', `github_pat_${'A'.repeat(82)}`), ['github-token@1']);
  assert.deepEqual(kinds('x', 'glpat-abcdefghij0123456789'), ['gitlab-token@1']);
  assert.deepEqual(kinds('x', `//registry.npmjs.org/:_authToken=npm_${'b'.repeat(36)}`), ['npm-token@1']);
  assert.deepEqual(kinds('x', `pypi-AgEIcHlwaS5vcmc${'c'.repeat(60)}`), ['pypi-token@1']);
  assert.deepEqual(kinds('x', 'xoxb-1234567890-abcdef'), ['slack-token@1']);
});

test(
  'secrets known by the file they are in: .npmrc, .git-credentials, .env, kube config, .pypirc, docker config, ' +
    'id_rsa',
  () => {
    assert.deepEqual(kinds('root/.npmrc', '//r.example/:_authToken=abc123secret\n'), ['npmrc-auth-token@1']);
    assert.deepEqual(
      kinds('root/.npmrc', '//r.example/:_authToken=${NPM_TOKEN}\n'),
      [],
      'a placeholder is not a secret',
    );
    assert.deepEqual(kinds('home/u/.git-credentials', 'https://me:s3cret@github.com\n'), ['git-credentials@1']);
    assert.deepEqual(kinds('app/.env', 'DEBUG=1\nDB_PASSWORD=hunter2\nAPI_KEY=\nTOKEN=${TOKEN}\n'), [
      'dotenv-secret@2',
    ]);
    assert.deepEqual(kinds('app/.env.example', 'DB_PASSWORD=hunter2\n'), [], 'examples are documentation');
    assert.deepEqual(
      kinds('app/.env', 'AWS_ACCESS_KEY_ID=AKIAQWERTYUIOPASDF12\n'),
      ['aws-access-key-id@1'],
      'one finding per line',
    );
    assert.deepEqual(
      kinds('root/.kube/config', 'apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    token: abc\n'),
      ['kubeconfig-credentials@2'],
    );
    assert.deepEqual(kinds('root/.pypirc', '[pypi]\nusername = me\npassword = pw\n'), ['pypirc-password@3']);
    assert.deepEqual(kinds('root/.docker/config.json', '{"auths":{"r":{"auth":"dXNlcjpwYXNz"}}}'), [
      'docker-config-auth@1',
    ]);
    assert.deepEqual(kinds('root/.ssh/id_ed25519', 'garbled'), ['ssh-private-key-file@0']);
    assert.deepEqual(kinds('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'), []);
  },
);

test('ENV and ARG assignments: names of secret values, never the values; harmless values pass', () => {
  assert.deepEqual(
    secretAssignments([
      `GH=ghp_${'x'.repeat(36)}`,
      'DB_PASSWORD=hunter2',
      'PATH=/usr/bin',
      'TOKEN_URL=https://auth.example/token',
      'API_KEY=${API_KEY}',
      'USE_AUTH=true',
      'NO_EQUALS',
    ]),
    [
      { name: 'GH', kind: 'github-token' },
      { name: 'DB_PASSWORD', kind: 'secret-named-variable' },
    ],
  );
});
