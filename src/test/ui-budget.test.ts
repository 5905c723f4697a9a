/** The web UI's budgets that do not depend on the machine: SQL statements per page, page size, asset sizes. */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { CSS, JS } from '../ui/assets.js';
import { useTestServer } from './testkit.js';
import { countStatements, seedTags } from './ui-seed.js';
import { UiClient } from './ui-kit.js';

const ts = useTestServer();

describe('budgets', () => {
  test('tags page of a 10,000-tag repository, 100 rows, any sort or filter: at most 3 SQL statements', async () => {
    await seedTags(ts.running.stores.meta, 'big/repo', 10_000);
    const ui = new UiClient(ts);
    await ui.get('/ui');
    for (const q of [
      '',
      '?sort=name',
      '?sort=-semver',
      '?sort=natural',
      '?q=build-1*',
      '?sort=pushed&after=build-500',
    ]) {
      const { result: res, statements } = await countStatements(() => ui.get(`/ui/r/big/repo${q}`));
      assert.equal(res.status, 200, q);
      assert.ok(statements <= 3, `${q || 'default'}: ${statements} statements`);
      assert.ok(statements >= 2, `the counter sees the statements (${statements})`);
      const rows = (res.text().match(/<tr>|<tr /g) ?? []).length - 1;
      assert.ok(rows <= 100, `${rows} rows`);
      assert.ok(res.body.length <= 60 * 1024, `${q}: ${res.body.length} bytes of HTML (budget: 60 KB per 100 rows)`);
    }
  });

  test('the script and the stylesheet stay within 15 KB and 20 KB gzipped', () => {
    assert.ok(gzipSync(JS).length <= 15 * 1024);
    assert.ok(gzipSync(CSS).length <= 20 * 1024);
  });
});
