// The tags page's statement in SQLite reads the page through the order's index: no sort of the repository's tags.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteMetadataStore } from './sqlite/index.js';
import { TAG_SORTS, type TagOrder } from './tag-keys.js';
import { tagPageParams, tagPageSql } from './tag-page-sql.js';

const INDEX: Record<TagOrder, string> = {
  name: 'sqlite_autoindex_tags_1',
  natural: 'tags_by_natural',
  semver: 'tags_by_semver',
  pushed: 'tags_by_pushed',
};

test('every sort, filter and cursor: the page walks its order index and sorts at most the page', () => {
  const store = SqliteMetadataStore.open(':memory:');
  try {
    const db = (store as unknown as { db: { raw: import('better-sqlite3').Database } }).db.raw;
    for (const sort of TAG_SORTS) {
      for (const q of ['', 'rc', 'v1.*']) {
        for (const after of [null, 'v1.2.3']) {
          const { shape, params } = tagPageParams('sqlite', 'app', { sort, q, after, limit: 100 });
          const plan = db.prepare(`EXPLAIN QUERY PLAN ${tagPageSql('sqlite', shape)}`).all(params) as {
            id: number;
            parent: number;
            detail: string;
          }[];
          const what = `${sort} q="${q}" after=${after}`;
          const page = plan.find((r) => r.detail === 'MATERIALIZE page');
          assert.ok(page, `${what}: ${JSON.stringify(plan)}`);
          const inPage = plan.filter((r) => r.parent === page.id);
          const search = inPage.find((r) => r.detail.startsWith('SEARCH t '));
          assert.match(search?.detail ?? '', new RegExp(`USING (COVERING )?INDEX ${INDEX[shape.order]} `), what);
          assert.ok(!inPage.some((r) => r.detail.includes('TEMP B-TREE')), `${what}: the page sorts no tags`);
          if (after !== null && shape.order !== 'name') assert.match(search!.detail, /\(.*,name\)[<>]/, what);
        }
      }
    }
  } finally {
    void store.close();
  }
});
