/** Vulnerability counts in the web UI's lists: the tags page (per tag) and the repository list (per repository). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanRecord } from '../metadata/types.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { makeImage, pushImage, uniqueRepo, useTestServer } from './testkit.js';
import { assertHtml, pushIndex, UiClient, visibleText, XSS } from './ui-kit.js';

const ts = useTestServer();

/** Stores a scan as the scanner leaves it (src/scan/registry/scanner.ts). */
async function scanned(repo: string, digest: Digest, state: ScanRecord['state'], summary: object | null) {
  await ts.running.stores.meta.scans.save({
    digest,
    repository: repo,
    state,
    generation: state === 'done' ? 'g1' : null,
    packages: null,
    report: state === 'done' ? '{"findings":[]}' : null,
    summary: summary === null ? null : JSON.stringify(summary),
    error: state === 'failed' ? XSS : null,
    updatedAt: 1,
  });
}

/** The visible text of the cells of the table row whose link points at `href`. */
function row(html: string, href: string): string[] {
  const tr = html.split('<tr').find((r) => r.includes(`href="${href}"`));
  assert.ok(tr, `a row links ${href}`);
  return tr
    .split('</tr>')[0]!
    .split('<td')
    .slice(1)
    .map((td) => visibleText(`<td${td}`).trim());
}

/** The vulnerabilities cell of a tags page row (the 8th) and of a repository list row (the 3rd). */
const tagVulns = (html: string, href: string) => row(html, href)[7];
const repoVulns = (html: string, href: string) => row(html, href)[2];

test('tags page: counts per tag from its scan, an index its worst image, "not scanned" without a scan', async () => {
  const repo = uniqueRepo('vulns');
  const bad = makeImage();
  const waiting = makeImage();
  await pushImage(ts, repo, bad, 'bad');
  await pushImage(ts, repo, waiting, 'waiting');
  await pushImage(ts, repo, makeImage(), 'never');
  const { index, amd, arm } = await pushIndex(ts, repo, 'multi');
  await scanned(repo, bad.manifest.digest, 'done', { CRITICAL: 1, HIGH: 2, MEDIUM: 0, LOW: 4, UNKNOWN: 0 });
  await scanned(repo, waiting.manifest.digest, 'pending', null);
  await scanned(repo, amd.manifest.digest, 'done', { HIGH: 3 });
  await scanned(repo, arm.manifest.digest, 'done', { CRITICAL: 0, HIGH: 1, LOW: 9 });
  assert.ok(index.digest);
  const ui = new UiClient(ts);
  const html = assertHtml(await ui.get(`/ui/r/${repo}`));
  assert.match(html, /<th scope="col">Vulnerabilities<\/th>/);
  assert.equal(tagVulns(html, `/ui/r/${repo}/t/bad`), '1 critical, 2 high, 4 low');
  assert.equal(tagVulns(html, `/ui/r/${repo}/t/waiting`), 'scan pending');
  assert.equal(tagVulns(html, `/ui/r/${repo}/t/never`), 'not scanned');
  assert.equal(tagVulns(html, `/ui/r/${repo}/t/multi`), '3 high (worst of 2 images)');

  // The repository list: the worst image its tags reach (the index's children count).
  const list = assertHtml(await ui.get(`/ui/repos?q=${repo}`));
  assert.equal(repoVulns(list, `/ui/r/${repo}`), '1 critical, 2 high, 4 low (worst of 3 images)');
});

test('repository list: not scanned, pending, failed and clean repositories each say so', async () => {
  const prefix = uniqueRepo('vulnlist');
  const pending = makeImage();
  const failed = makeImage();
  const clean = makeImage();
  await pushImage(ts, `${prefix}/none`, makeImage(), 'v1');
  await pushImage(ts, `${prefix}/pending`, pending, 'v1');
  await pushImage(ts, `${prefix}/failed`, failed, 'v1');
  await pushImage(ts, `${prefix}/clean`, clean, 'v1');
  await scanned(`${prefix}/pending`, pending.manifest.digest, 'pending', null);
  await scanned(`${prefix}/failed`, failed.manifest.digest, 'failed', null);
  await scanned(`${prefix}/clean`, clean.manifest.digest, 'done', { CRITICAL: 0, HIGH: 0 });
  const html = assertHtml(await new UiClient(ts).get(`/ui/repos?q=${prefix}/*`));
  assert.equal(repoVulns(html, `/ui/r/${prefix}/none`), 'not scanned');
  assert.equal(repoVulns(html, `/ui/r/${prefix}/pending`), 'scan pending');
  assert.equal(repoVulns(html, `/ui/r/${prefix}/failed`), 'scan failed');
  assert.equal(repoVulns(html, `/ui/r/${prefix}/clean`), 'none found');
  assert.doesNotMatch(html, /<img/, 'the failure message is not shown in the list');
});

test('a summary holding markup or odd values shows only whole counts of known levels, as text', async () => {
  const repo = uniqueRepo('vulnxss');
  const img = makeImage();
  await pushImage(ts, repo, img, 'v1');
  await scanned(repo, img.manifest.digest, 'done', { [XSS]: 5, HIGH: XSS, MEDIUM: 2.5, LOW: -1, CRITICAL: 2 });
  const ui = new UiClient(ts);
  const html = assertHtml(await ui.get(`/ui/r/${repo}`));
  assert.doesNotMatch(html, /<img/);
  assert.equal(tagVulns(html, `/ui/r/${repo}/t/v1`), '2 critical');
  const list = assertHtml(await ui.get(`/ui/repos?q=${repo}`));
  assert.doesNotMatch(list, /<img/);
  assert.equal(repoVulns(list, `/ui/r/${repo}`), '2 critical');
});

test('repository list: the cell covers the images of the newest 100 tags, and its heading says so', async () => {
  const repo = uniqueRepo('vulnrecent');
  const meta = ts.running.stores.meta;
  const digests: Digest[] = [];
  // 101 tags t000..t100, each on its own manifest, pushed in name order (the newest is also last by name).
  for (let i = 0; i <= 100; i++) {
    const config = digestOf(`${repo} config ${i}`);
    await meta.blobs.add(repo, config, 10);
    const digest = digestOf(`${repo} manifest ${i}`);
    const rec = { repo, digest, mediaType: MediaTypes.OciManifest, size: 100, artifactType: MediaTypes.OciConfig };
    const extra = { subject: null, annotations: null, createdAt: 1_700_000_000_000 + i };
    const tag = `t${String(i).padStart(3, '0')}`;
    assert.deepEqual(await meta.manifests.put({ ...rec, ...extra }, { blobs: [config], manifests: [] }, [tag]), {
      missing: [],
    });
    digests.push(digest);
  }
  await scanned(repo, digests[0]!, 'done', { CRITICAL: 3 });
  const ui = new UiClient(ts);
  let html = assertHtml(await ui.get(`/ui/repos?q=${repo}`));
  assert.match(html, /<th scope="col">Vulnerabilities \(newest 100 tags\)<\/th>/);
  assert.equal(repoVulns(html, `/ui/r/${repo}`), 'not scanned', 'the 101st newest tag is not counted');
  await scanned(repo, digests[1]!, 'done', { HIGH: 2 });
  html = assertHtml(await ui.get(`/ui/repos?q=${repo}`));
  assert.equal(repoVulns(html, `/ui/r/${repo}`), '2 high', 'the 100th newest tag is');
});
