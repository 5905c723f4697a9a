import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeImage, pushImage } from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';

describe('CORS for browser UIs on another origin (http.cors)', () => {
  const ts = useMemoryApp({ http: { cors: { origins: ['https://ui.example'] } } });
  const origin = { origin: 'https://ui.example' };

  test(
    'a preflight from an allowed origin is answered without authentication; others get no CORS ' + 'headers',
    async () => {
      const pre = await ts.req('OPTIONS', '/v2/app/manifests/v1', {
        headers: {
          ...origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://ui.example');
      assert.match(String(pre.headers['access-control-allow-methods']), /DELETE/);
      assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/);
      const other = await ts.req('OPTIONS', '/v2/app/manifests/v1', {
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(other.status, 403);
      assert.equal(other.headers['access-control-allow-origin'], undefined);
    },
  );

  test(
    'answers of the registry API carry the origin and expose the headers clients read; the admin API ' + 'none',
    async () => {
      const img = makeImage();
      assert.equal((await pushImage(ts, 'app', img, 'v1')).status, 201);
      const r = await ts.req('GET', '/v2/app/manifests/v1', { headers: { ...origin, accept: img.manifest.mediaType } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['access-control-allow-origin'], 'https://ui.example');
      assert.match(String(r.headers['access-control-expose-headers']), /Docker-Content-Digest/);
      assert.equal(
        (await ts.req('GET', '/v2/app/tags/list', { headers: { origin: 'https://evil.example' } })).headers[
          'access-control-allow-origin'
        ],
        undefined,
      );
      const admin = await ts.req('GET', '/admin/v1/usage', { headers: origin });
      assert.equal(admin.headers['access-control-allow-origin'], undefined, 'the admin API stays same-origin');
      assert.equal(
        (
          await ts.req('OPTIONS', '/admin/v1/accounts', {
            headers: { ...origin, 'access-control-request-method': 'POST' },
          })
        ).headers['access-control-allow-origin'],
        undefined,
      );
    },
  );
});

describe('without http.cors', () => {
  const ts = useMemoryApp();
  test('no CORS headers and no preflight route', async () => {
    const r = await ts.req('GET', '/v2/', { headers: { origin: 'https://ui.example' } });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal((await ts.req('OPTIONS', '/v2/', { headers: { origin: 'https://ui.example' } })).status, 404);
  });
});
