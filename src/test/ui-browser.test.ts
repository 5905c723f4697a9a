/**
 * The web UI in a real browser: Debian's chromium driven by playwright-core against a real `kura serve` child,
 * with images pushed by skopeo and kura. Every page in both themes with zero axe violations (WCAG 2 A/AA), no
 * console errors (CSP breaks show up there), a keyboard path, the untag flow with JavaScript off, screenshots.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { KURA_MAIN, loadTestImages, makeTestImages, startKura, type KuraProcess } from './kura-process.js';
import { makeImage, pushImage, pushManifest, rawRequest, type Requester } from './testkit.js';
import bcrypt from 'bcryptjs';
import { tempDir } from './tempdirs.js';
import { filesImage, hostileImage, XSS } from './ui-kit.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: apt-get install -y chromium to run the browser check`;
const shots = process.env.KURA_UI_SCREENSHOTS || join(tmpdir(), `kura-ui-screenshots-${process.pid}`);
const execFileP = promisify(execFile);

describe('web UI in chromium', { skip }, () => {
  let kura: KuraProcess;
  /** A second server with sign-in (htpasswd admin, store accounts) for the tokens page. */
  let authed: KuraProcess;
  let browser: Browser;
  let filesDigest = '';

  before(async () => {
    kura = await startKura();
    const images = await loadTestImages(await makeTestImages());
    const multi = images.get('multiarch')!;
    const tiny = images.get('tiny')!;
    await execFileP('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      multi.ociRef,
      `docker://${kura.host}/multi:latest`,
    ]);
    const env = { ...process.env, CI: '1' };
    await execFileP(process.execPath, [KURA_MAIN, 'copy', '-q', tiny.ociRef, `docker://${kura.host}/tiny:1.0`], {
      env,
    });
    const http: Requester = { req: (m, p, o) => rawRequest(kura.url, undefined, m, p, o) };
    const two = makeImage();
    await pushImage(http, 'team/app', two, 'a');
    await pushManifest(http, 'team/app', 'b', two.manifest);
    await pushImage(http, 'team/app', makeImage(), 'v2');
    await pushImage(http, 'hostile', hostileImage(), 'evil');
    const l0 = {
      'etc/': '',
      'etc/conf': 'one',
      [`etc/${XSS}`]: 'x',
      'lib/apk/db/installed': 'P:musl\nV:1.2.4\nL:MIT\n\n',
    };
    const v1 = await filesImage([l0, { 'etc/conf': 'two', 'app/main.js': 'x'.repeat(3000) }]);
    await pushImage(http, 'files/app', v1, 'v1');
    await pushImage(http, 'files/app', await filesImage([l0, { 'etc/conf': 'three' }], { Env: ['A=1'] }), 'v2');
    filesDigest = v1.manifest.digest;
    const dir = tempDir('kura-ui-browser-');
    writeFileSync(join(dir, 'htpasswd'), `root:${bcrypt.hashSync('root-pw', 4)}\n`);
    const cfg = join(dir, 'kura.yaml');
    writeFileSync(cfg, `auth:\n  htpasswd: ${join(dir, 'htpasswd')}\n  accounts: true\n  admins: [root]\n`);
    authed = await startKura({ args: ['--config', cfg] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    mkdirSync(shots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await kura?.stop();
    await authed?.stop();
  });

  /** Opens a page, failing on console errors and failed requests; returns the page. */
  async function open(p: Page, path: string, errors: string[]): Promise<void> {
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${path}: ${m.text()}`);
    });
    p.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
    p.on('requestfailed', (r) => errors.push(`${path}: ${r.url()} failed`));
    const res = await p.goto(kura.url + path);
    assert.equal(res?.status(), 200, `${path} answers 200`);
  }

  const pages = () => [
    ['dashboard', '/ui'],
    ['repositories', '/ui/repos'],
    ['tags', '/ui/r/team/app'],
    ['index', '/ui/r/multi/t/latest'],
    ['image', '/ui/r/hostile/t/evil'],
    ['usage', '/ui/usage'],
    ['gc', '/ui/gc'],
    ['audit', '/ui/audit'],
    ['retention', '/ui/policies'],
    ['files', `/ui/r/files/app/m/${filesDigest}/files?path=/etc`],
    ['files-layer', `/ui/r/files/app/m/${filesDigest}/files?layer=0`],
    ['diff', `/ui/r/files/app/m/${filesDigest}/diff?with=v2`],
    ['sbom', `/ui/r/files/app/m/${filesDigest}/sbom?compute=1`],
    ['vulns', `/ui/r/files/app/m/${filesDigest}/vulns`],
  ];

  for (const scheme of ['light', 'dark'] as const) {
    test(`every page in the ${scheme} theme: no axe violations, no console errors`, async () => {
      const ctx = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 900 } });
      try {
        const problems: string[] = [];
        for (const [name, path] of pages()) {
          const p = await ctx.newPage();
          const errors: string[] = [];
          await open(p, path!, errors);
          const axe = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21aa']).analyze();
          for (const v of axe.violations) {
            problems.push(`${path}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
          }
          problems.push(...errors);
          assert.ok(await p.locator('main h1').count(), `${path} has a main heading`);
          await p.screenshot({ path: join(shots, `${name}-${scheme}.png`), fullPage: true });
          await p.close();
        }
        assert.deepEqual(problems, []);
      } finally {
        await ctx.close();
      }
    });
  }

  test('keyboard: tab to the search field, type, Enter submits the search', async () => {
    const p = await browser.newPage();
    try {
      await p.goto(`${kura.url}/ui/repos`);
      let reached = false;
      for (let i = 0; i < 30 && !reached; i++) {
        await p.keyboard.press('Tab');
        reached = await p.evaluate(() => document.activeElement?.getAttribute('name') === 'q');
      }
      assert.ok(reached, 'the search field is reachable with Tab');
      await p.keyboard.type('team');
      await Promise.all([p.waitForURL(/\/ui\/repos\?q=team/), p.keyboard.press('Enter')]);
      const rows = await p.locator('main tbody tr').allTextContents();
      assert.equal(rows.length, 1);
      assert.match(rows[0]!, /team\/app/);
    } finally {
      await p.close();
    }
  });

  test('JavaScript off: untag one of two tags on a digest through the confirmation page', async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    try {
      const p = await ctx.newPage();
      await p.goto(`${kura.url}/ui/r/team/app`);
      await p.locator('button[name="tag"][value="a"]').click();
      await p.waitForURL(/\/ui\/r\/team\/app\/untag$/);
      assert.match(await p.locator('main').innerText(), /b stay/);
      await p.screenshot({ path: join(shots, 'confirm-untag.png') });
      await p.getByRole('button', { name: 'Untag a' }).click();
      await p.waitForURL(/done=untagged/);
      assert.match(await p.locator('[role=status]').innerText(), /Removed tag a/);
      const tags = await p.locator('main tbody a[href*="/t/"]').allTextContents();
      assert.deepEqual(tags.sort(), ['b', 'v2']);
    } finally {
      await ctx.close();
    }
    const b = await rawRequest(kura.url, undefined, 'GET', '/v2/team/app/manifests/b');
    assert.equal(b.status, 200, 'the other tag on the digest stays');
  });

  test('markup in labels and history is text in the browser: no element is made from it', async () => {
    const p = await browser.newPage();
    try {
      await p.goto(`${kura.url}/ui/r/hostile/t/evil`);
      assert.equal(await p.locator('main img').count(), 0);
      assert.match(await p.locator('main').innerText(), /<img src=x onerror=alert\(1\)>/);
    } finally {
      await p.close();
    }
  });
  test('tokens page, signed in as an admin, both themes: no axe violations; the secret page too', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const ctx = await browser.newContext({ colorScheme: scheme });
      try {
        const p = await ctx.newPage();
        await p.goto(`${authed.url}/ui/login`);
        await p.getByLabel('User name').fill('root');
        await p.getByLabel('Password or robot secret').fill('root-pw');
        await Promise.all([p.waitForURL(/\/ui$/), p.getByRole('button', { name: 'Sign in' }).click()]);
        const problems: string[] = [];
        const check = async (what: string) => {
          const axe = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21aa']).analyze();
          for (const v of axe.violations)
            problems.push(`${what}: ${v.id}: ${v.nodes.map((n) => n.target).join(' | ')}`);
          await p.screenshot({ path: join(shots, `${what}-${scheme}.png`), fullPage: true });
        };
        await p.goto(`${authed.url}/ui/tokens`);
        await check('tokens');
        await p.getByLabel('Repositories (globs, space-separated)').fill('team/**');
        await p.getByRole('button', { name: 'Create' }).click();
        assert.match(await p.locator('main').innerText(), /will not show it again/);
        await check('token-created');
        assert.deepEqual(problems, []);
      } finally {
        await ctx.close();
      }
    }
  });
});
