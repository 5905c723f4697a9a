// `kura serve` with metadata.driver postgres: the OCI conformance cases through the real server over PostgreSQL.
import { describe, test } from 'node:test';
import { conformanceSuite } from '../test/conformance-cases.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';
import { perFile, startTestServer } from '../test/testkit.js';

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
}
