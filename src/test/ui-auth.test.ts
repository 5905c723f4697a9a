/** The web UI's sign-in and rights over a real `kura serve` with htpasswd: the same rules as the registry API. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { basic } from './helpers.js';
import { tempDir } from './tempdirs.js';
import { makeImage, pushImage, pushManifest, useTestServer, type Requester } from './testkit.js';
import { assertHtml, UiClient, visibleText } from './ui-kit.js';

const dir = tempDir('kura-ui-auth-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, ['root', 'bob'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n');

const ts = useTestServer({
  auth: {
    htpasswd,
    admins: ['root'],
    rules: [{ users: ['bob'], repositories: ['**'], actions: ['pull'] }],
    anonymous: [{ repositories: ['public/**'], actions: ['pull'] }],
  },
});

/** Pushes as root (Basic auth on every request). */
const asRoot: Requester = {
  req: (m, p, o = {}) => ts.req(m, p, { ...o, headers: { ...o.headers, authorization: basic('root') } }),
};

describe('sign-in and rights', () => {
  test('sign in sets an HttpOnly, SameSite=Strict session cookie; a wrong password is a 401 page', async () => {
    const ui = new UiClient(ts);
    const bad = await ui.login('bob', 'nope');
    assert.match(visibleText(assertHtml(bad, 401)), /Wrong user name or password/);
    assert.equal(ui.cookies.has('kura_session'), false);
    const good = await ui.login('bob', 'bob-pw');
    assert.equal(good.status, 303);
    const set = [good.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('kura_session='));
    assert.ok(set, 'a session cookie');
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Path=\/ui/);
    assert.doesNotMatch(set, /Secure/, 'not on plain HTTP');
    assert.match(visibleText(assertHtml(await ui.get('/ui'))), /bob Sign out/);
    const out = await ui.post('/ui/logout', {});
    assert.equal(out.status, 303);
    assert.doesNotMatch(visibleText(assertHtml(await ui.get('/ui'))), /Sign out/);
  });

  test('anonymous callers see what the anonymous rules allow, and are sent to sign in for the rest', async () => {
    await pushImage(asRoot, 'public/thing', makeImage(), 'v1');
    await pushImage(asRoot, 'private/thing', makeImage(), 'v1');
    const ui = new UiClient(ts);
    const list = visibleText(assertHtml(await ui.get('/ui/repos')));
    assert.match(list, /public\/thing/);
    assert.doesNotMatch(list, /private\/thing/);
    assertHtml(await ui.get('/ui/r/public/thing'));
    const denied = await ui.get('/ui/r/private/thing');
    assert.equal(denied.status, 303);
    assert.equal(denied.headers.location, '/ui/login?back=%2Fui%2Fr%2Fprivate%2Fthing');
    assert.equal((await ui.get('/ui/usage')).status, 303, 'operator pages want a sign-in');
  });

  test('a read-only user sees no destructive controls, and a POST is 403 and changes nothing', async () => {
    const img = makeImage();
    await pushImage(asRoot, 'ro/app', img, 'a');
    await pushManifest(asRoot, 'ro/app', 'b', img.manifest);
    const ui = new UiClient(ts);
    await ui.login('bob', 'bob-pw');
    const html = assertHtml(await ui.get('/ui/r/ro/app'));
    assert.doesNotMatch(html, /Untag|Delete|act-untag|Add a tag/);
    assertHtml(await ui.post('/ui/r/ro/app/untag', { tag: 'a', confirm: 'yes' }), 403);
    assertHtml(await ui.post('/ui/r/ro/app/delete', { digest: img.manifest.digest, confirm: 'yes' }), 403);
    assertHtml(await ui.post('/ui/r/ro/app/retag', { from: 'a', to: 'c' }), 403);
    assertHtml(await ui.post('/ui/gc', { dryRun: '0', confirm: 'yes' }), 403);
    assertHtml(await ui.post('/ui/policies/apply', { confirm: 'yes' }), 403);
    assertHtml(await ui.get('/ui/audit'), 403);
    const tags = await asRoot.req('GET', '/v2/ro/app/tags/list');
    assert.deepEqual(tags.json().tags, ['a', 'b']);
  });

  test('an admin may untag, sees operator pages, and the action lands in the audit log', async () => {
    const img = makeImage();
    await pushImage(asRoot, 'adm/app', img, 'a');
    await pushManifest(asRoot, 'adm/app', 'b', img.manifest);
    const ui = new UiClient(ts);
    await ui.login('root', 'root-pw');
    assert.match(assertHtml(await ui.get('/ui/r/adm/app')), /Untag/);
    assert.equal((await ui.post('/ui/r/adm/app/untag', { tag: 'a', confirm: 'yes' })).status, 303);
    assert.deepEqual((await asRoot.req('GET', '/v2/adm/app/tags/list')).json().tags, ['b']);
    await ts.running.registry.flushAudit();
    const audit = visibleText(assertHtml(await ui.get('/ui/audit?repository=adm/app')));
    assert.match(audit, /root 127\.0\.0\.1 delete adm\/app a 202/);
    assertHtml(await ui.get('/ui/usage'));
    assert.match(visibleText(assertHtml(await ui.get('/ui/policies'))), /would: Remove nothing/);
    const dry = visibleText(assertHtml(await ui.post('/ui/gc', { dryRun: '1' })));
    assert.match(dry, /would be deleted/);
  });

  test('a session of another browser is not usable with this browser CSRF token', async () => {
    const a = new UiClient(ts);
    await a.login('root', 'root-pw');
    const b = new UiClient(ts);
    await b.get('/ui');
    b.cookies.set('kura_session', a.cookies.get('kura_session')!);
    assertHtml(await b.post('/ui/r/adm/app/untag', { tag: 'b', confirm: 'yes' }), 403);
  });
});
