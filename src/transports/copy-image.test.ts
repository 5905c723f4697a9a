/**
 * copyImage and copyRepository as the library exports them: by location name, with the registry
 * options of openLocation (credentials, plainHttp, signal), and cancelled by an AbortSignal.
 */
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyImage, copyRepository, openLocation, OciLayout, RegistryRepository, randomImage } from '../index.js';
import { useTestServer } from '../test/testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-copy-image-'));
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
const ts = useTestServer({ auth: { htpasswd } });
const host = () => new URL(ts.url).host;
const alice = { username: 'alice', password: 'alice-pw' };

test('copyImage: layout → registry → layout by name, with credentials; the same digest all the way', async () => {
  const src = await randomImage({ seed: 301, layers: 2 });
  await new OciLayout(join(dir, 'src')).write('v1', src);
  const o = { credentials: alice, plainHttp: true };
  const pushed = await copyImage(`oci:${join(dir, 'src')}:v1`, `docker://${host()}/copy/app:v1`, o);
  assert.equal(pushed.digest, src.descriptor.digest);
  const back = await copyImage(`docker://${host()}/copy/app:v1`, `oci:${join(dir, 'back')}:v1`, o);
  assert.equal(back.digest, src.descriptor.digest);
  assert.deepEqual((await new OciLayout(join(dir, 'back')).get('v1')).manifest, src.manifest);
  // Without credentials the registry refuses, and the error names the option.
  await assert.rejects(
    copyImage(`oci:${join(dir, 'src')}:v1`, `docker://${host()}/copy/anon:v1`, { plainHttp: true, keychain: none }),
    /401 from .*: pass credentials/,
  );
});

test('openLocation takes credentials, plainHttp and signal for a registry', async () => {
  const c = new AbortController();
  const loc = await openLocation(`${host()}/copy/app:v1`, { credentials: alice, plainHttp: true, signal: c.signal });
  assert.ok(loc.medium instanceof RegistryRepository);
  assert.equal(loc.medium.client.endpoint.base.protocol, 'http:');
  assert.equal((await loc.medium.head('v1')).descriptor.mediaType.includes('manifest'), true);
  c.abort();
  await assert.rejects(loc.medium.head('v1'), { name: 'AbortError' });
  await assert.rejects(openLocation(`oci:${join(dir, 'src')}:v1`, { signal: c.signal }), { name: 'AbortError' });
});

test('an aborted copy writes nothing; copyRepository stops before its first tag', async () => {
  const c = new AbortController();
  c.abort();
  const out = join(dir, 'aborted');
  await assert.rejects(
    copyImage(`docker://${host()}/copy/app:v1`, `oci:${out}:v1`, { credentials: alice, signal: c.signal }),
    { name: 'AbortError' },
  );
  assert.equal(existsSync(join(out, 'index.json')), false);
  const from = await openLocation(`oci:${join(dir, 'src')}`);
  const to = await openLocation(`oci:${join(dir, 'repo-copy')}`, { forWriting: true });
  await assert.rejects(copyRepository(from.medium as OciLayout, to.medium, { signal: c.signal }), {
    name: 'AbortError',
  });
  assert.equal(existsSync(join(dir, 'repo-copy', 'index.json')), false);
  // Not aborted, the same call copies every tag.
  const done = await copyRepository(from.medium as OciLayout, to.medium, { signal: new AbortController().signal });
  assert.deepEqual(
    done.map((d) => d.tag),
    ['v1'],
  );
});

/** A keychain that knows nobody. */
const none = { resolve: async () => undefined };
