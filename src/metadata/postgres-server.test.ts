// `kura serve` with metadata.driver postgres: the OCI conformance cases through the real server over PostgreSQL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { conformanceSuite } from '../test/conformance-cases.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';
import { makeImage, perFile, pushImage, startTestServer, type TestServer } from '../test/testkit.js';

const url = await postgresUrl();

if (url === null) {
  test('kura serve on PostgreSQL metadata', { skip: POSTGRES_SKIP }, () => {});
} else {
  describe('conformance cases, kura serve with metadata.driver postgres (OCI_AUTOMATIC_CROSSMOUNT=0)', () =>
    conformanceSuite(false, (config) =>
      perFile(async () => {
        const { schema, drop } = await freshSchema(url);
        const ts = await startTestServer({ ...config, metadata: { driver: 'postgres', postgres: { url, schema } } });
        const closeServer = ts.close.bind(ts);
        return Object.assign(ts, {
          async close() {
            await closeServer();
            await drop();
          },
        });
      }, 'the server on PostgreSQL'),
    ));

  test('two servers on one database: a tag moved through one is served moved by the other', async () => {
    const { schema, drop } = await freshSchema(url);
    const config = { metadata: { driver: 'postgres' as const, postgres: { url, schema } } };
    const servers: TestServer[] = [];
    try {
      // Replicas share the metadata database and the blob storage (here one data directory).
      servers.push(await startTestServer(config));
      servers.push(await startTestServer({ ...config, data: servers[0]!.dataDir }));
      const [one, two] = servers as [TestServer, TestServer];
      const first = makeImage();
      const second = makeImage();
      await pushImage(one, 'shared/app', first, 'latest');
      // Read through `one` first, so a per-process lookup cache would hold the old answer.
      const before = await one.req('HEAD', '/v2/shared/app/manifests/latest');
      assert.equal(before.headers['docker-content-digest'], first.manifest.digest);
      await pushImage(two, 'shared/app', second, 'latest');
      const after = await one.req('GET', '/v2/shared/app/manifests/latest');
      assert.equal(after.status, 200);
      assert.equal(after.headers['docker-content-digest'], second.manifest.digest);
      const tags = await one.req('GET', '/v2/shared/app/tags/list');
      assert.deepEqual(tags.json().tags, ['latest']);
    } finally {
      for (const s of servers) await s.close();
      await drop();
    }
  });
}
