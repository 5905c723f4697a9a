/** The web UI's pages through a real `kura serve` (SQLite + filesystem) without a browser: JS-off forms. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createServer } from '../server/create.js';
import { bytes } from '../ui/format.js';
import { makeImage, pushImage, pushManifest, uniqueRepo, useTestServer } from './testkit.js';
import { assertHtml, hostileImage, pushIndex, UiClient, visibleText, XSS } from './ui-kit.js';

const ts = useTestServer();

describe('pages', () => {
  test('the dashboard answers with a strict CSP, a Server-Timing header and the stylesheet', async () => {
    const res = await new UiClient(ts).get('/ui');
    const html = assertHtml(res);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(String(res.headers['server-timing']), /^app;dur=\d+(\.\d+)?$/);
    const css = /href="(\/ui\/assets\/kura-[0-9a-f]+\.css)"/.exec(html)?.[1];
    assert.ok(css, 'the page links its stylesheet');
    const asset = await ts.req('GET', css);
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    assert.equal((await ts.req('GET', '/ui/assets/kura-000000000000.css')).status, 404);
    assert.doesNotMatch(html, /<script>|<style>| style=/, 'no inline script or style (the CSP would block it)');
  });

  test('repositories: server-side search and keyset paging', async () => {
    const prefix = uniqueRepo('search');
    for (const n of ['alpha', 'beta', 'gamma']) await pushImage(ts, `${prefix}/${n}`, makeImage(), 'latest');
    const ui = new UiClient(ts);
    const hit = visibleText(assertHtml(await ui.get(`/ui/repos?q=${prefix}/b`)));
    assert.match(hit, new RegExp(`${prefix}/beta`));
    assert.doesNotMatch(hit, new RegExp(`${prefix}/alpha`));
    const glob = visibleText(assertHtml(await ui.get(`/ui/repos?q=${prefix}/*a`)));
    assert.match(glob, /3 repositories/);
    const after = visibleText(assertHtml(await ui.get(`/ui/repos?q=${prefix}/*&after=${prefix}/alpha`)));
    assert.doesNotMatch(after, new RegExp(`${prefix}/alpha\\b`));
    assert.match(after, new RegExp(`${prefix}/gamma`));
    const none = visibleText(assertHtml(await ui.get(`/ui/repos?q=${prefix}-nothing`)));
    assert.match(none, /No repository matches/);
  });

  test('tags: grouped by digest with the count of tags a delete removes; sorts and paging', async () => {
    const repo = uniqueRepo('tags');
    const img = makeImage();
    await pushImage(ts, repo, img, 'v1.10.0');
    await pushManifest(ts, repo, 'v1.9.0', img.manifest);
    await pushImage(ts, repo, makeImage(), 'v1.2.0');
    const ui = new UiClient(ts);
    const tagOrder = (html: string) => [...html.matchAll(/\/t\/(v[\d.]+)">/g)].map((m) => m[1]);
    const html = assertHtml(await ui.get(`/ui/r/${repo}?sort=semver`));
    const text = visibleText(html);
    assert.match(text, /2 tags: v1\.10\.0, v1\.9\.0/);
    assert.match(text, /Delete manifest \(removes 2 tags\)/);
    assert.deepEqual(tagOrder(html), ['v1.2.0', 'v1.9.0', 'v1.10.0']);
    assert.deepEqual(tagOrder(assertHtml(await ui.get(`/ui/r/${repo}?sort=-semver`))), ['v1.10.0', 'v1.9.0', 'v1.2.0']);
    assert.deepEqual(tagOrder(assertHtml(await ui.get(`/ui/r/${repo}?sort=name`))), ['v1.10.0', 'v1.2.0', 'v1.9.0']);
    assert.deepEqual(tagOrder(assertHtml(await ui.get(`/ui/r/${repo}?sort=natural`))), ['v1.2.0', 'v1.9.0', 'v1.10.0']);
    const filtered = visibleText(assertHtml(await ui.get(`/ui/r/${repo}?q=v1.*.0&sort=name`)));
    assert.match(filtered, /3 of 3 tags/);
    assert.match(visibleText(assertHtml(await ui.get(`/ui/r/${repo}?q=1.9`))), /1 of 3 tags/);
  });

  test('keyset paging over 120 tags: 50 per page, no tag twice, none lost', async () => {
    const repo = uniqueRepo('paging');
    const img = makeImage();
    await pushImage(ts, repo, img, 't000');
    for (let i = 1; i < 120; i++) {
      await ts.running.registry.putManifest(
        repo,
        `t${String(i).padStart(3, '0')}`,
        img.manifest.mediaType,
        img.manifest.bytes,
      );
    }
    const ui = new UiClient(ts);
    const seen: string[] = [];
    let url: string | null = `/ui/r/${repo}?sort=name&n=50`;
    while (url) {
      const html = assertHtml(await ui.get(url));
      seen.push(...[...html.matchAll(/<a href="\/ui\/r\/[^"]+\/t\/(t\d{3})">/g)].map((m) => m[1]!));
      url = /<a href="([^"]+)">Next page<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? null;
    }
    assert.equal(seen.length, 120);
    assert.equal(new Set(seen).size, 120);
    assert.deepEqual(seen, [...seen].sort());
  });

  test('an index shows each platform with its size, and its size is the sum over platforms', async () => {
    const repo = uniqueRepo('multi');
    const { index, amdSize, armSize } = await pushIndex(ts, repo, 'multi');
    const ui = new UiClient(ts);
    const tags = visibleText(assertHtml(await ui.get(`/ui/r/${repo}`)));
    assert.match(tags, new RegExp(`${bytes(amdSize + armSize).replace('.', '\\.')} in 2 manifests`));
    const page = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/m/${index.digest}`)));
    assert.match(page, /Platforms \(2\)/);
    assert.match(page, new RegExp(`linux/amd64 ${bytes(amdSize).replace('.', '\\.')}`));
    assert.match(page, new RegExp(`linux/arm64 ${bytes(armSize).replace('.', '\\.')}`));
    assert.doesNotMatch(page, / 0 B/);
    const byTag = visibleText(assertHtml(await ui.get(`/ui/r/${repo}/t/multi`)));
    assert.match(byTag, /Platforms \(2\)/);
  });

  test('labels, env and history holding markup are shown as text, never as markup', async () => {
    const repo = uniqueRepo('xss');
    const img = hostileImage();
    await pushImage(ts, repo, img, 'evil');
    const html = assertHtml(await new UiClient(ts).get(`/ui/r/${repo}/t/evil`));
    assert.doesNotMatch(html, /<img src=x/);
    assert.match(html, /&lt;img src=x onerror=alert\(1\)/);
    const text = visibleText(html);
    assert.ok(text.includes(`RUN echo '${XSS}' > /x`), 'history as a Dockerfile');
    assert.ok(text.includes('CMD ["sh"]'));
    assert.ok(text.includes(`org.example.evil ${XSS}`), 'the label, as text');
    assert.match(text, /No signature, SBOM or attestation refers to this manifest/);
    assert.match(text, /Vulnerabilities: not scanned/);
  });

  test('an unknown repository or manifest is a 404 page; a bad path is a 404', async () => {
    const ui = new UiClient(ts);
    assertHtml(await ui.get('/ui/r/no-such-repo-here'), 404);
    assertHtml(await ui.get(`/ui/r/no-such-repo-here/m/sha256:${'0'.repeat(64)}`), 404);
    assertHtml(await ui.get('/ui/r/UPPER'), 404);
    assertHtml(await ui.get('/ui/nothing'), 404);
  });
});

describe('actions with JavaScript off', () => {
  test('untag one of two tags on a digest: confirm first, then only that tag goes', async () => {
    const repo = uniqueRepo('untag');
    const img = makeImage();
    await pushImage(ts, repo, img, 'a');
    await pushManifest(ts, repo, 'b', img.manifest);
    const ui = new UiClient(ts);
    assertHtml(await ui.get(`/ui/r/${repo}`));
    const confirm = visibleText(assertHtml(await ui.post(`/ui/r/${repo}/untag`, { tag: 'a' })));
    assert.match(confirm, /Only the tags go/);
    assert.match(confirm, /, b stay/);
    assert.equal((await ts.req('GET', `/v2/${repo}/manifests/a`)).status, 200, 'the confirmation page changed nothing');
    const done = await ui.post(`/ui/r/${repo}/untag`, { tag: 'a', confirm: 'yes' });
    assert.equal(done.status, 303);
    assert.match(String(done.headers.location), new RegExp(`^/ui/r/${repo}\\?done=untagged`));
    assert.equal((await ts.req('GET', `/v2/${repo}/manifests/a`)).status, 404);
    assert.equal((await ts.req('GET', `/v2/${repo}/manifests/b`)).status, 200);
    const after = visibleText(assertHtml(await ui.get(String(done.headers.location))));
    assert.match(after, /Removed tag a; the manifest and its other tags stay/);
  });

  test('delete manifest warns how many tags it removes, then removes the manifest', async () => {
    const repo = uniqueRepo('delete');
    const img = makeImage();
    await pushImage(ts, repo, img, 'x');
    await pushManifest(ts, repo, 'y', img.manifest);
    const ui = new UiClient(ts);
    await ui.get(`/ui/r/${repo}`);
    const confirm = visibleText(assertHtml(await ui.post(`/ui/r/${repo}/delete`, { digest: img.manifest.digest })));
    assert.match(confirm, /this removes 2 tags: x, y/);
    const done = await ui.post(`/ui/r/${repo}/delete`, { digest: img.manifest.digest, confirm: 'yes' });
    assert.equal(done.status, 303);
    assert.equal((await ts.req('GET', `/v2/${repo}/manifests/${img.manifest.digest}`)).status, 404);
  });

  test('retag adds a tag; moving an existing tag asks first', async () => {
    const repo = uniqueRepo('retag');
    const one = makeImage();
    const two = makeImage();
    await pushImage(ts, repo, one, 'one');
    await pushImage(ts, repo, two, 'two');
    const ui = new UiClient(ts);
    await ui.get(`/ui/r/${repo}`);
    assert.equal((await ui.post(`/ui/r/${repo}/retag`, { from: 'one', to: 'stable' })).status, 303);
    const got = await ts.req('GET', `/v2/${repo}/manifests/stable`);
    assert.equal(got.headers['docker-content-digest'], one.manifest.digest);
    const ask = visibleText(assertHtml(await ui.post(`/ui/r/${repo}/retag`, { from: 'two', to: 'stable' })));
    assert.match(ask, /Move tag stable\?/);
    const still = await ts.req('GET', `/v2/${repo}/manifests/stable`);
    assert.equal(still.headers['docker-content-digest'], one.manifest.digest);
    assertHtml(await ui.post(`/ui/r/${repo}/retag`, { from: 'one', to: 'bad tag!' }), 400);
  });

  test('a form without the CSRF token, or with another one, is refused and changes nothing', async () => {
    const repo = uniqueRepo('csrf');
    await pushImage(ts, repo, makeImage(), 'keep');
    const ui = new UiClient(ts);
    await ui.get(`/ui/r/${repo}`);
    assertHtml(await ui.post(`/ui/r/${repo}/untag`, { tag: 'keep', confirm: 'yes', csrf: '' }), 403);
    assertHtml(await ui.post(`/ui/r/${repo}/untag`, { tag: 'keep', confirm: 'yes', csrf: 'x'.repeat(32) }), 403);
    // Another browser's token does not fit this browser's cookie.
    const other = new UiClient(ts);
    await other.get('/ui');
    const stolen = other.csrf;
    assertHtml(await ui.post(`/ui/r/${repo}/untag`, { tag: 'keep', confirm: 'yes', csrf: stolen }), 403);
    assert.equal((await ts.req('GET', `/v2/${repo}/manifests/keep`)).status, 200);
  });

  test('theme switch without JavaScript: a cookie and a redirect back, never off-site', async () => {
    const ui = new UiClient(ts);
    const res = await ui.get('/ui/theme?set=dark&back=%2Fui%2Frepos');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/ui/repos');
    assert.match(assertHtml(await ui.get('/ui/repos')), /<html lang="en" data-theme="dark">/);
    const away = await ui.get('/ui/theme?set=light&back=%2F%2Fevil.example%2Fui');
    assert.equal(away.headers.location, '/ui');
  });
});

test('ui.enabled: false (as a flag or variable gives it) leaves /ui unserved', async () => {
  const off = await createServer({ config: { ui: { enabled: 'false' } } });
  try {
    const res = await fetch(`${off.url}/ui`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /json/);
  } finally {
    await off.close();
  }
});
