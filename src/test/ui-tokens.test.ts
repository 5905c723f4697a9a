/** The web UI's tokens page over a real `kura serve` with htpasswd and store accounts: robots made and revoked. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { basic } from './helpers.js';
import { tempDir } from './tempdirs.js';
import { useTestServer } from './testkit.js';
import { assertHtml, UiClient, visibleText } from './ui-kit.js';

const dir = tempDir('kura-ui-tokens-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, ['root', 'bob'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n');

const ts = useTestServer({
  auth: {
    htpasswd,
    accounts: true,
    admins: ['root'],
    rules: [{ users: ['bob'], repositories: ['**'], actions: ['pull'] }],
  },
});

describe('tokens', () => {
  test('an admin creates a robot: the secret is shown once and works with the registry API', async () => {
    const ui = new UiClient(ts);
    await ui.login('root', 'root-pw');
    const page = visibleText(assertHtml(await ui.get('/ui/tokens')));
    assert.match(page, /no personal access tokens/);
    assert.match(page, /New robot/);
    const res = await ui.post('/ui/tokens', [
      ['name', 'ci-bot'],
      ['repositories', 'team/** app'],
      ['action', 'pull'],
      ['action', 'push'],
      ['days', '30'],
    ]);
    const html = assertHtml(res, 201);
    assert.equal(res.headers['cache-control'], 'no-store');
    const secret = /<code class="secret">([^<]+)<\/code>/.exec(html)?.[1];
    assert.ok(secret && secret.length >= 24, 'the secret is on the page');
    assert.match(visibleText(html), /will not show it again/);
    const list = assertHtml(await ui.get('/ui/tokens'));
    assert.ok(!list.includes(secret), 'never shown again');
    assert.match(visibleText(list), /ci-bot robot pull, push on team\/\*\*, app/);
    const auth = `Basic ${Buffer.from(`ci-bot:${secret}`).toString('base64')}`;
    const tags = await ts.req('GET', '/v2/team/x/tags/list', { headers: { authorization: auth } });
    assert.notEqual(tags.status, 401, 'the robot signs in with its secret');
    await ts.running.registry.flushAudit();
    assert.doesNotMatch(JSON.stringify(await ts.running.registry.listAudit({ limit: 50 })), new RegExp(secret));
  });

  test('revoking asks first, then the robot can no longer sign in', async () => {
    const ui = new UiClient(ts);
    await ui.login('root', 'root-pw');
    await ui.get('/ui/tokens');
    const made = assertHtml(await ui.post('/ui/tokens', { name: 'gone-bot', repositories: 'x', action: 'pull' }), 201);
    const secret = /<code class="secret">([^<]+)<\/code>/.exec(made)![1]!;
    const confirm = visibleText(assertHtml(await ui.post('/ui/tokens/revoke', { name: 'gone-bot' })));
    assert.match(confirm, /Revoke gone-bot\?/);
    assert.match(visibleText(assertHtml(await ui.get('/ui/tokens'))), /gone-bot/, 'not revoked before confirming');
    const done = await ui.post('/ui/tokens/revoke', { name: 'gone-bot', confirm: 'yes' });
    assert.equal(done.status, 303);
    assert.doesNotMatch(visibleText(assertHtml(await ui.get('/ui/tokens'))), /gone-bot/);
    const auth = `Basic ${Buffer.from(`gone-bot:${secret}`).toString('base64')}`;
    assert.equal((await ts.req('GET', '/v2/x/tags/list', { headers: { authorization: auth } })).status, 401);
  });

  test('bad input is a 400 page naming the problem; a missing CSRF token is a 403', async () => {
    const ui = new UiClient(ts);
    await ui.login('root', 'root-pw');
    await ui.get('/ui/tokens');
    const bad = visibleText(assertHtml(await ui.post('/ui/tokens', { name: 'Bad Name', repositories: 'x' }), 400));
    assert.match(bad, /invalid account name/);
    assertHtml(await ui.post('/ui/tokens', { repositories: 'x', action: 'pull', days: '99999' }), 400);
    assertHtml(await ui.post('/ui/tokens', { repositories: '', action: 'pull' }), 400);
    assertHtml(await ui.post('/ui/tokens', { repositories: 'x', action: 'pull', csrf: '' }), 403);
    assert.doesNotMatch(visibleText(assertHtml(await ui.get('/ui/tokens'))), /robot-[0-9a-f]/, 'nothing was made');
  });

  test('a read-only user sees no forms and gets 403 on every POST; anonymous is sent to sign in', async () => {
    const ui = new UiClient(ts);
    await ui.login('bob', 'bob-pw');
    const html = assertHtml(await ui.get('/ui/tokens'));
    assert.doesNotMatch(html, /action="\/ui\/tokens/);
    assert.match(visibleText(html), /made and revoked by registry administrators/);
    assertHtml(await ui.post('/ui/tokens', { name: 'sneaky', repositories: '**', action: 'push' }), 403);
    assertHtml(await ui.post('/ui/tokens/revoke', { name: 'ci-bot', confirm: 'yes' }), 403);
    const root = { authorization: basic('root') };
    const names = (await ts.req('GET', '/admin/v1/accounts', { headers: root }))
      .json()
      .accounts.map((a: { name: string }) => a.name);
    assert.ok(!names.includes('sneaky'));
    assert.ok(names.includes('ci-bot'), 'bob could not revoke it');
    const anon = new UiClient(ts);
    assert.equal((await anon.get('/ui/tokens')).status, 303);
  });
});
