// Webhook events through a real `kura serve` (the shipped bundle) to a real local receiver: the envelopes of
// pushes, pulls, mounts and deletes; a receiver that is down while Kura restarts gets every event later, in order.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Agent } from 'node:http';
import { ENVELOPE_MEDIA_TYPE } from '../events/types.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { tempDirs } from './tempdirs.js';
import { assertStatus, makeImage, pushImage, rawRequest, type Requester } from './testkit.js';
import { Receiver } from './webhook-receiver.js';

const tempDir = tempDirs('kura-events-');
const agent = new Agent({ keepAlive: false });
after(() => agent.destroy());
const client = (k: KuraProcess): Requester => ({ req: (m, p, o) => rawRequest(k.url, agent, m, p, o) });

async function configFile(dir: string, yaml: string): Promise<string> {
  const file = join(dir, 'kura.yaml');
  await writeFile(file, yaml);
  return file;
}

describe('webhook events (notifications)', () => {
  test('push, pull, mount and delete reach the endpoints as registry:2 envelopes', async () => {
    const all = await new Receiver().start();
    const quiet = await new Receiver().start();
    const dir = tempDir();
    const config = await configFile(
      dir,
      `delete: {enabled: true}
notifications:
  interval: 100ms
  endpoints:
    - name: all
      url: ${all.url}
      headers: {Authorization: Bearer s3cret, X-Many: [a, b]}
    - name: quiet
      url: ${quiet.url}
      ignoredmediatypes: [application/octet-stream]
      ignore: {actions: [pull]}
`,
    );
    const kura = await startKura({ args: ['--config', config] });
    try {
      const ts = client(kura);
      const img = makeImage({ layers: 1 });
      await pushImage(ts, 'team/app', img, 'v1');
      assertStatus(
        await ts.req('GET', '/v2/team/app/manifests/v1', { headers: { accept: img.manifest.mediaType } }),
        200,
      );
      assertStatus(await ts.req('HEAD', '/v2/team/app/manifests/v1'), 200);
      const layer = img.layers[0]!.digest;
      assertStatus(await ts.req('GET', `/v2/team/app/blobs/${layer}`), 200);
      assertStatus(await ts.req('POST', `/v2/team/other/blobs/uploads/?mount=${layer}&from=team/app`), 201);
      assertStatus(await ts.req('DELETE', '/v2/team/app/manifests/v1'), 202);
      assertStatus(await ts.req('DELETE', `/v2/team/app/manifests/${img.manifest.digest}`), 202);
      assertStatus(await ts.req('DELETE', `/v2/team/other/blobs/${layer}`), 202);

      const events = await all.waitFor(9);
      const summary = events.map((e) => [e.action, e.target.repository, e.target.digest ?? null, e.target.tag ?? null]);
      const m = img.manifest.digest;
      assert.deepEqual(summary, [
        ['push', 'team/app', img.config.digest, null],
        ['push', 'team/app', layer, null],
        ['push', 'team/app', m, 'v1'],
        ['pull', 'team/app', m, 'v1'],
        ['pull', 'team/app', layer, null],
        ['mount', 'team/other', layer, null],
        ['delete', 'team/app', null, 'v1'],
        ['delete', 'team/app', m, null],
        ['delete', 'team/other', layer, null],
      ]);
      const push = events[2]!;
      assert.deepEqual(push.target, {
        mediaType: img.manifest.mediaType,
        size: img.manifest.bytes.length,
        digest: m,
        length: img.manifest.bytes.length,
        repository: 'team/app',
        url: `${kura.url}/v2/team/app/manifests/${m}`,
        tag: 'v1',
      });
      assert.equal(push.request.method, 'PUT');
      assert.equal(push.request.host, kura.host);
      assert.match(push.request.addr, /^127\.0\.0\.1:\d+$/);
      assert.match(push.id, /^[0-9a-f-]{36}$/);
      assert.ok(Math.abs(Date.parse(push.timestamp) - Date.now()) < 60_000);
      assert.match(push.source.addr, new RegExp(`:${new URL(kura.url).port}$`));
      assert.equal(events[0]!.target.mediaType, 'application/octet-stream');
      assert.equal(events[5]!.target.fromRepository, 'team/app');
      const headers = all.posts[0]!.headers;
      assert.equal(headers['content-type'], ENVELOPE_MEDIA_TYPE);
      assert.equal(headers.authorization, 'Bearer s3cret');
      assert.equal(headers['x-many'], 'a, b');

      // No pulls and no blobs (media type application/octet-stream) for the quiet one; blob deletes carry none.
      const quietEvents = await quiet.waitFor(4);
      assert.deepEqual(
        quietEvents.map((e) => [e.action, e.target.tag ?? e.target.digest]),
        [
          ['push', 'v1'],
          ['delete', 'v1'],
          ['delete', m],
          ['delete', layer],
        ],
      );
    } finally {
      await kura.stop();
      await all.stop();
      await quiet.stop();
    }
  });

  test('a receiver down while Kura restarts gets every event afterwards, in order', async () => {
    const receiver = await new Receiver().start();
    const port = receiver.port;
    await receiver.stop();
    const dir = tempDir();
    const config = await configFile(
      dir,
      `metrics: {enabled: true}
notifications:
  interval: 50ms
  endpoints:
    - {name: hook, url: '${receiver.url}', threshold: 2, backoff: 200ms, timeout: 1s}
`,
    );
    const dataDir = join(dir, 'data');
    let kura = await startKura({ dataDir, args: ['--config', config] });
    const tags = ['1', '2', '3', '4', '5'];
    try {
      const ts = client(kura);
      const img = makeImage({ layers: 1 });
      for (const t of tags) await pushImage(ts, 'app', img, t);
      // Failing deliveries are counted, and the backlog shows what waits.
      let text = '';
      for (let i = 0; i < 100 && !/kura_events_delivery_failures_total\{endpoint="hook"\} [1-9]/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 50));
        text = (await ts.req('GET', '/metrics')).text();
      }
      assert.match(text, /kura_events_delivery_failures_total\{endpoint="hook"\} [1-9]/);
      assert.match(text, /kura_events_backlog\{endpoint="hook"\} 15/);
      await kura.stop();
      await receiver.start(port);
      kura = await startKura({ dataDir, args: ['--config', config] });
      const events = await receiver.waitFor(15);
      const manifests = events.filter((e) => e.target.tag !== undefined).map((e) => e.target.tag);
      assert.deepEqual(manifests, tags, 'manifest pushes in the order they happened');
      assert.equal(events.length, 15, 'each event once');
      const after = (await client(kura).req('GET', '/metrics')).text();
      assert.doesNotMatch(after, /kura_events_backlog\{endpoint="hook"\} [1-9]/);
    } finally {
      await kura.stop();
      await receiver.stop();
    }
  });
});
