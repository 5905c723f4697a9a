import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWwwAuthenticate } from './auth.js';

test('WWW-Authenticate: quoted values keep their commas, several challenges, escaped quotes', () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' +
        'scope="repository:samalba/my-app:pull,push"',
    ),
    [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:samalba/my-app:pull,push',
        },
      },
    ],
  );
  assert.deepEqual(
    parseWwwAuthenticate(
      'Basic realm="kura", charset="UTF-8", Bearer realm="http://x/token" , error=insufficient_scope',
    ),
    [
      { scheme: 'basic', params: { realm: 'kura', charset: 'UTF-8' } },
      { scheme: 'bearer', params: { realm: 'http://x/token', error: 'insufficient_scope' } },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="a \\"quoted\\" realm, with comma"'), [
    { scheme: 'bearer', params: { realm: 'a "quoted" realm, with comma' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('BEARER Realm="r",SCOPE="repository:a/b:pull repository:c:pull"'), [
    { scheme: 'bearer', params: { realm: 'r', scope: 'repository:a/b:pull repository:c:pull' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
  assert.deepEqual(parseWwwAuthenticate(''), []);
});
