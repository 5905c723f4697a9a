import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import bcrypt from 'bcryptjs';
import { describe, test } from 'node:test';
import { assertStatus, content, nextLink, randomBlob } from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';
import { tempDir } from '../test/tempdirs.js';

const htpasswd = join(tempDir('kura-catalog-'), 'htpasswd');
writeFileSync(htpasswd, `carol:${bcrypt.hashSync('carol-pw', 4)}\n`);
const carol = { authorization: 'Basic ' + Buffer.from('carol:carol-pw').toString('base64') };

describe('catalog pagination under authorization', () => {
  const ts = useMemoryApp({
    auth: { htpasswd, rules: [{ users: ['carol'], repositories: ['open/**'], actions: ['pull'] }] },
  });

  test('each page holds n repositories the caller may pull, and the Link names only such a repository', async () => {
    // No one may push here: the blobs go in through the server's own Registry.
    const reg = ts.registry;
    for (let i = 0; i < 12; i++) {
      const b = content(randomBlob(10 + i));
      await reg.monolithicUpload(
        `${i % 3 === 0 ? 'open' : 'hidden'}/r${String(i).padStart(2, '0')}`,
        b.digest,
        Readable.from([b.bytes]),
      );
    }
    const seen: string[] = [];
    let path: string | null = '/v2/_catalog?n=2';
    while (path) {
      const res = await ts.req('GET', path, { headers: carol });
      assertStatus(res, 200);
      const page: string[] = res.json().repositories;
      path = nextLink(res);
      if (path) assert.equal(page.length, 2, `a page before the last is full: ${JSON.stringify(page)}`);
      if (path) assert.ok(decodeURIComponent(path).includes(page[page.length - 1]!));
      seen.push(...page);
    }
    assert.deepEqual(seen, ['open/r00', 'open/r03', 'open/r06', 'open/r09']);
  });
});
