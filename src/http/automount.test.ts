import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { assertError, assertStatus, content, putManifest, randomBlob } from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';
import { basic } from '../test/helpers.js';
import { tempDir } from '../test/tempdirs.js';

const dir = tempDir('kura-automount-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, ['alice', 'carol'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n');

describe('uploads.automaticMount: automatic content discovery', () => {
  const ts = useMemoryApp({
    uploads: { automaticMount: true },
    auth: {
      htpasswd,
      rules: [
        { users: ['alice'], repositories: ['**'], actions: ['admin'] },
        { users: ['carol'], repositories: ['carol/**', 'shared/**'], actions: ['pull', 'push'] },
      ],
    },
  });

  test('a mount without from finds the blob only in repositories the caller may pull', async () => {
    const secret = content(randomBlob(500));
    const shared = content(randomBlob(600));
    for (const [repo, c] of [
      ['private/app', secret],
      ['shared/base', shared],
    ] as const) {
      assertStatus(
        await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${c.digest}`, {
          headers: { authorization: basic('alice') },
          body: c.bytes,
        }),
        201,
      );
    }
    // carol may not pull private/app: its blob is not found for her, and she learns nothing (202, an upload).
    const hidden = await ts.req('POST', `/v2/carol/app/blobs/uploads/?mount=${secret.digest}`, {
      headers: { authorization: basic('carol') },
    });
    assertStatus(hidden, 202);
    assertStatus(
      await ts.req('HEAD', `/v2/carol/app/blobs/${secret.digest}`, { headers: { authorization: basic('carol') } }),
      404,
    );
    // Nor through a `from` she may not pull.
    assertStatus(
      await ts.req('POST', `/v2/carol/app/blobs/uploads/?mount=${secret.digest}&from=private/app`, {
        headers: { authorization: basic('carol') },
      }),
      202,
    );
    const found = await ts.req('POST', `/v2/carol/app/blobs/uploads/?mount=${shared.digest}`, {
      headers: { authorization: basic('carol') },
    });
    assertStatus(found, 201);
    assert.equal(found.headers.location, `/v2/carol/app/blobs/${shared.digest}`);
    assertStatus(
      await ts.req('HEAD', `/v2/carol/app/blobs/${shared.digest}`, { headers: { authorization: basic('carol') } }),
      200,
    );
  });
});

describe('references that cannot exist', () => {
  const ts = useMemoryApp();
  test('GET, HEAD and DELETE of an impossible tag are 404 MANIFEST_UNKNOWN; a PUT of it stays 400', async () => {
    const name = '.INVALID_MANIFEST_NAME';
    assertError(await ts.req('GET', `/v2/some/repo/manifests/${name}`), 404, 'MANIFEST_UNKNOWN');
    assertStatus(await ts.req('HEAD', `/v2/some/repo/manifests/${name}`), 404);
    assertError(await ts.req('DELETE', `/v2/some/repo/manifests/${name}`), 404, 'MANIFEST_UNKNOWN');
    const put = await putManifest(
      ts,
      'some/repo',
      name,
      content('{"schemaVersion":2}', 'application/vnd.oci.image.manifest.v1+json'),
    );
    assert.equal(put.status, 400, put.text());
  });
});
