/**
 * The registry client's options and edges, against kura serve: explicit schemes, repository names
 * checked before any request, tag listings page by page, and errors that name library options.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { randomImage } from '../../oci/random.js';
import { useTestServer } from '../../test/testkit.js';
import { cliMessage } from '../../cli/hints.js';
import { RegistryClient } from './client.js';
import { RegistryNetworkError, type RegistryResponseError } from './errors.js';

const ts = useTestServer();
const host = () => new URL(ts.url).host;

test('an explicit scheme in `registry` is honoured, and one plainHttp contradicts is refused', () => {
  assert.equal(new RegistryClient({ registry: 'http://example.com:5000' }).base, 'http://example.com:5000');
  assert.equal(new RegistryClient({ registry: 'https://127.0.0.1:5000' }).base, 'https://127.0.0.1:5000');
  assert.equal(new RegistryClient({ registry: 'HTTPS://127.0.0.1:5000/' }).registry, '127.0.0.1:5000');
  // Without a scheme, loopback is plain HTTP and the rest HTTPS, as before.
  assert.equal(new RegistryClient({ registry: '127.0.0.1:5000' }).base, 'http://127.0.0.1:5000');
  assert.equal(new RegistryClient({ registry: 'example.com' }).base, 'https://example.com');
  assert.throws(
    () => new RegistryClient({ registry: 'https://127.0.0.1:5000', plainHttp: true }),
    /says https:\/\/ but plainHttp is true/,
  );
  assert.throws(() => new RegistryClient({ registry: 'ftp://example.com' }), /must be http:\/\/ or https:\/\//);
});

test('a repository name outside the grammar is refused before any request', async () => {
  let requests = 0;
  const srv = createServer((_req, res) => (requests++, res.writeHead(500).end()));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const client = new RegistryClient({ registry: `127.0.0.1:${(srv.address() as { port: number }).port}` });
    for (const bad of ['Bad Name', 'UPPER/case', '../x', ''])
      assert.throws(() => client.repository(bad), { code: 'NAME_INVALID' }, bad);
    assert.equal(requests, 0);
  } finally {
    srv.close();
  }
});

test('tagPages() yields page by page, names the next page, starts after `last` and stops with the caller', async () => {
  const repo = new RegistryClient({ registry: host() }).repository('options/pages');
  const img = await randomImage({ seed: 224 });
  const names = ['t1', 't2', 't3', 't4', 't5'];
  for (const t of names) await repo.write(t, img);
  const pages: string[][] = [];
  const nexts: (string | undefined)[] = [];
  for await (const p of repo.tagPages({ pageSize: 2 })) {
    pages.push(p.tags);
    nexts.push(p.next);
  }
  assert.deepEqual(pages, [['t1', 't2'], ['t3', 't4'], ['t5']]);
  assert.match(nexts[0] ?? '', /tags\/list\?.*last=t2/);
  assert.equal(nexts[2], undefined);
  const first: string[][] = [];
  for await (const p of repo.tagPages({ pageSize: 2, last: 't2' })) {
    first.push(p.tags);
    break;
  }
  assert.deepEqual(first, [['t3', 't4']]);
  assert.deepEqual(await repo.tags(2), names);
});

test('errors carry code, status, registry, repository and a hint; the CLI words the hint as a flag', async () => {
  const repo = new RegistryClient({ registry: host() }).repository('options/none');
  await assert.rejects(repo.get('v9'), (e: RegistryResponseError) => {
    assert.deepEqual([e.code, e.status, e.registry, e.repository], ['MANIFEST_UNKNOWN', 404, host(), 'options/none']);
    return true;
  });
  // Plain HTTP to a port nobody listens on: the fix names `insecure`, the CLI `--insecure`.
  const gone = new RegistryClient({ registry: '127.0.0.1:1' }).repository('x/app');
  await assert.rejects(gone.get('v1'), (e: RegistryNetworkError) => {
    assert.ok(e instanceof RegistryNetworkError);
    assert.equal(e.code, 'ECONNREFUSED');
    assert.deepEqual(e.hint, { option: 'insecure' });
    assert.match(e.message, /cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\); .*set insecure: true$/);
    assert.match(cliMessage(e, `wrapped: ${e.message}`), /^wrapped: cannot reach .*; .*use --insecure$/);
    return true;
  });
  // HTTPS to a plain HTTP server: `plainHttp`, `--plain-http`.
  const tls = new RegistryClient({ registry: `https://${host()}` }).repository('x/app');
  await assert.rejects(tls.get('v1'), (e: RegistryNetworkError) => {
    assert.deepEqual(e.hint, { option: 'plainHttp', value: true });
    assert.match(e.message, /does not speak HTTPS .*; set plainHttp: true for a registry without TLS$/);
    assert.match(cliMessage(e, e.message), /; use --plain-http for a registry without TLS$/);
    return true;
  });
});
