/** The web UI's pages inside an image (files, diff, SBOM, vulnerabilities) over a real `kura serve`, no browser. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanFilesPath } from '../ui/image-routes.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { content, pushImage, pushManifest, uniqueRepo, useTestServer } from './testkit.js';
import { assertHtml, filesImage, pushIndex, UiClient, visibleText, XSS } from './ui-kit.js';
import type { Digest } from '../oci/digest.js';

const ts = useTestServer();

const BIG = 'x'.repeat(6000);
const APK = 'P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\n\n';

/** v1: three layers (a file rewritten, a file removed); v2: v1's layers plus one, and another env. */
async function pushPair(repo: string) {
  const l0 = { 'etc/': '', 'etc/conf': 'v1', 'data/': '', 'data/big.bin': BIG, [`data/${XSS}`]: 'hostile name' };
  const l1 = { 'etc/conf': 'version two', 'data/.wh.big.bin': '', 'lib/apk/db/installed': APK };
  const l2 = { 'app/main.js': 'console.log(1)' };
  const v1 = await filesImage([l0, l1, l2], { Env: ['MODE=one'] });
  const v2 = await filesImage([l0, l1, l2, { 'app/extra.js': 'more', 'etc/conf': 'three!' }], { Env: ['MODE=two'] });
  await pushImage(ts, repo, v1, 'v1');
  await pushImage(ts, repo, v2, 'v2');
  return { v1: v1.manifest.digest, v2: v2.manifest.digest };
}

describe('image pages', () => {
  test('files: the merged tree by size with the layer of each path, waste marked, names as text', async () => {
    const repo = uniqueRepo('files');
    const { v1 } = await pushPair(repo);
    const ui = new UiClient(ts);
    const manifest = assertHtml(await ui.get(`/ui/r/${repo}/t/v1`));
    assert.ok(manifest.includes(`/ui/r/${repo}/m/${v1}/files`), 'the manifest page links its files');
    const root = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files`)));
    assert.match(root, /Efficiency/);
    // /etc/conf written in layers 1 and 2: the first copy (2 bytes) is waste; data/big.bin removed: all of it.
    assert.match(root, /6000 B wasted|5\.9 KiB wasted/);
    assert.match(root, /\/data\/big\.bin \(removed\) 5\.9 KiB 1, 2/);
    assert.match(root, /\/etc\/conf 2 B 1, 2/);
    const data = assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?path=/data`));
    assert.doesNotMatch(data, /<img src=x/, 'a hostile file name is escaped');
    assert.ok(visibleText(data).includes(XSS), 'and shown as text');
    const etc = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?path=/etc`)));
    assert.match(etc, /conf -rw-r--r-- 11 B 2 2 B in 2 layers/);
    // Sorted by size: lib (the apk db), app (14 bytes), data (12), etc (11).
    const order = [...root.matchAll(/ (app|lib|etc|data)\/ /g)].map((m) => m[1]);
    assert.deepEqual(order, ['lib', 'app', 'data', 'etc']);
    const byName = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?sort=name`)));
    assert.deepEqual(
      [...byName.matchAll(/ (app|lib|etc|data)\/ /g)].map((m) => m[1]),
      ['app', 'data', 'etc', 'lib'],
    );
  });

  test('files per layer: the tree up to that layer, its own paths marked', async () => {
    const repo = uniqueRepo('layer');
    const { v1 } = await pushPair(repo);
    const ui = new UiClient(ts);
    const first = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?layer=0&path=/data`)));
    assert.match(first, /big\.bin -rw-r--r-- 5\.9 KiB 1 \(this\)/, 'layer 1 still has the file it wrote');
    const second = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?layer=1&path=/etc`)));
    assert.match(second, /conf -rw-r--r-- 11 B 2 \(this\)/);
    assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?layer=9`), 400);
  });

  test('files: paths that leave the image root, relative paths and unknown paths are refused', async () => {
    const repo = uniqueRepo('trav');
    const { v1 } = await pushPair(repo);
    const ui = new UiClient(ts);
    for (const p of ['/../etc', '/etc/../../..', 'etc', '/etc/./conf', '/etc%5Cconf', '/etc%00']) {
      const text = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?path=${p}`), 400));
      assert.match(text, /without "\." or "\.\." parts/, p);
    }
    assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/files?path=/no/such`), 404);
    assert.equal(cleanFilesPath('/a//b/'), 'a/b');
    assert.equal(cleanFilesPath('/'), '.');
    assert.equal(cleanFilesPath('/a/../b'), null);
  });

  test('files of an index ask for a platform; of an unknown manifest is a 404', async () => {
    const repo = uniqueRepo('fidx');
    const { index, amd } = await pushIndex(ts, repo, 'multi');
    const ui = new UiClient(ts);
    assert.match(
      visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${index.digest}/files`), 400)),
      /This is an index/,
    );
    assertHtml(await ui.get(`/ui/r/${repo}/m/sha256:${'0'.repeat(64)}/files`), 404);
    const notTar = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${amd.manifest.digest}/files`), 422));
    assert.match(notTar, /could not read this image's layers/, 'random layer bytes are no tar');
  });

  test('diff with an index compares with the child of the same platform', async () => {
    const repo = uniqueRepo('dplat');
    const { v1, v2 } = await pushPair(repo);
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciIndex,
      manifests: [
        { mediaType: MediaTypes.OciManifest, digest: v2, size: 0, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    const size = (await ts.running.registry.getManifest(repo, v2)).bytes.length;
    index.manifests[0]!.size = size;
    await pushManifest(ts, repo, 'idx', content(JSON.stringify(index), MediaTypes.OciIndex));
    const text = visibleText(assertHtml(await new UiClient(ts).get(`/ui/r/${repo}/m/${v1}/diff?with=idx`)));
    assert.ok(text.includes(`→ ${v2}`), 'the amd64 child');
    assert.match(text, /1 added, 0 removed, 1 changed/);
  });

  test('diff: files added, removed and changed, config changes; bad and unknown references refused', async () => {
    const repo = uniqueRepo('diff');
    const { v1 } = await pushPair(repo);
    const ui = new UiClient(ts);
    const form = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/diff`)));
    assert.match(form, /Give the tag or digest of another image/);
    const text = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/diff?with=v2`)));
    assert.match(text, /1 added, 0 removed, 1 changed; 1 config changes; 3 layers shared/);
    assert.match(text, /env\.MODE one two/);
    assert.match(text, /added \/app\/extra\.js 4 B/);
    assert.match(text, /changed \/etc\/conf size, content: 11 B → 6 B/);
    const onlyAdded = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/diff?with=v2&kind=A`)));
    assert.doesNotMatch(onlyAdded, /\/etc\/conf/);
    assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/diff?with=nope`), 404);
    assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/diff?with=${encodeURIComponent('../x')}`), 400);
  });

  test('SBOM: "not computed yet" until asked, then the packages; vulnerabilities: not scanned', async () => {
    const repo = uniqueRepo('sbom');
    const { v1 } = await pushPair(repo);
    const ui = new UiClient(ts);
    const before = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/sbom`)));
    assert.match(before, /Not computed yet/);
    assert.doesNotMatch(before, /musl/);
    const after = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/sbom?compute=1`)));
    assert.match(after, /2 packages/);
    assert.match(after, /musl 1\.2\.4-r2 apk MIT 2/);
    assert.match(after, /busybox 1\.36\.1-r5 apk GPL-2\.0-only 2/);
    assert.match(visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/sbom`))), /musl/, 'kept');
    const vulns = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/vulns`)));
    assert.match(vulns, /Not scanned: /);
    assert.match(vulns, /scan\.onPush/);
    // A scan as the scanner stores it (src/scan/registry/scanner.ts): the page lists it, the manifest page counts it.
    const finding = {
      id: 'CVE-2024-0001',
      aliases: ['GHSA-<img src=x>'],
      pkg: { name: 'musl', version: '1.2.4-r2', layer: 1 },
      fixed: ['1.2.4-r3'],
      severity: { level: 'HIGH', score: 7.5, source: 'CVSS:3.1' },
      link: 'https://osv.dev/vulnerability/CVE-2024-0001',
    };
    await ts.running.stores.meta.scans.save({
      digest: v1 as Digest,
      repository: repo,
      state: 'done',
      generation: 'g1',
      packages: null,
      report: JSON.stringify({ findings: [finding] }),
      summary: JSON.stringify({ CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, UNKNOWN: 0 }),
      error: null,
      updatedAt: Date.parse('2026-12-05T10:00:00Z'),
    });
    const scanned = assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}/vulns`));
    assert.doesNotMatch(scanned, /<img src=x/, 'an alias is text');
    const text = visibleText(scanned);
    assert.match(text, /Scan: 1 high, as of 2026-12-05T10:00:00\.000Z/);
    assert.match(text, /CVE-2024-0001 \(GHSA-<img src=x>\) HIGH 7\.5 \(CVSS:3\.1\) musl 1\.2\.4-r2 1\.2\.4-r3 1/);
    assert.match(visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${v1}`))), /Vulnerabilities: 1 high/);
    const { index } = await pushIndex(ts, repo, 'multi');
    const pick = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${index.digest}/sbom`)));
    assert.match(pick, /Pick a platform: linux\/amd64 linux\/arm64/);
  });
});
