// CloudEvents endpoints and signed deliveries through a real `kura serve` (the shipped bundle) to real receivers:
// the events pass the CloudEvents SDK's own validation, signatures verify with node:crypto alone, ids survive retries.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { kuraFails } from '../test/helpers.js';
import { startKura, type KuraProcess } from '../test/kura-process.js';
import { tempDirs } from '../test/tempdirs.js';
import { assertStatus, makeImage, pushImage, rawRequest, type Requester } from '../test/testkit.js';
import { Receiver } from '../test/webhook-receiver.js';
import type { KuraCloudEvent } from './types.js';

const tempDir = tempDirs('kura-cloudevents-');
const agent = new Agent({ keepAlive: false });
after(() => agent.destroy());
const client = (k: KuraProcess): Requester => ({ req: (m, p, o) => rawRequest(k.url, agent, m, p, o) });
const SECRET = 'ce-secret-0123456789abcdef';
const FILE_SECRET = 'file-secret-fedcba9876543210';

/** What a receiver does, written from the docs only: HMAC-SHA256 of "<timestamp>.<body>", compared in constant time. */
function verify(headers: IncomingHttpHeaders, raw: Buffer, secret: string): void {
  const ts = String(headers['x-kura-timestamp']);
  const sig = String(headers['x-kura-signature']);
  assert.match(ts, /^\d+$/);
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 300, 'timestamp within 5 minutes (replay window)');
  const want = Buffer.from('sha256=' + createHmac('sha256', secret).update(`${ts}.`).update(raw).digest('hex'));
  assert.ok(want.length === sig.length && timingSafeEqual(want, Buffer.from(sig)), 'signature verifies');
  const forged = createHmac('sha256', secret)
    .update(`${Number(ts) + 1}.`)
    .update(raw)
    .digest('hex');
  assert.notEqual(sig, `sha256=${forged}`, 'the timestamp is signed too');
}

describe('CloudEvents endpoints', () => {
  test('every change arrives as a valid, signed CloudEvent with the id of its registry:2 event', async () => {
    const ce = await new Receiver().start();
    const dist = await new Receiver().start();
    // The first two CloudEvents posts fail: the retried events keep their ids.
    let failures = 2;
    ce.flaky = () => failures-- > 0;
    const dir = tempDir();
    const secretFile = join(dir, 'hook.secret');
    await writeFile(secretFile, `${FILE_SECRET}\n`);
    const config = join(dir, 'kura.yaml');
    await writeFile(
      config,
      `delete: {enabled: true}
notifications:
  interval: 50ms
  endpoints:
    - {name: ce, url: '${ce.url}', format: cloudevents, secret: ${SECRET}}
    - {name: dist, url: '${dist.url}', secretFile: '${secretFile}'}
`,
    );
    const kura = await startKura({ args: ['--config', config] });
    try {
      const ts = client(kura);
      const img = makeImage({ layers: 1 });
      await pushImage(ts, 'team/app', img, 'v1');
      const layer = img.layers[0]!.digest;
      const m = img.manifest.digest;
      assertStatus(await ts.req('GET', `/v2/team/app/blobs/${layer}`), 200);
      assertStatus(await ts.req('POST', `/v2/team/other/blobs/uploads/?mount=${layer}&from=team/app`), 201);
      assertStatus(await ts.req('DELETE', '/v2/team/app/manifests/v1'), 202);
      assertStatus(await ts.req('DELETE', `/v2/team/app/manifests/${m}`), 202);
      assertStatus(await ts.req('DELETE', `/v2/team/other/blobs/${layer}`), 202);

      await ce.waitFor(8);
      const distEvents = await dist.waitFor(8);
      assert.equal(ce.posts.length, 8, 'structured mode: one event per POST');
      const events = ce.posts.map((p) => {
        assert.equal(p.headers['content-type'], 'application/cloudevents+json');
        verify(p.headers, p.raw, SECRET);
        // The SDK parses the request as a receiver would and validates it against the 1.0 spec (throws if not).
        const parsed = HTTP.toEvent({ headers: p.headers, body: p.raw.toString('utf8') }) as CloudEvent;
        assert.ok(parsed.validate());
        return JSON.parse(p.raw.toString('utf8')) as KuraCloudEvent;
      });
      assert.deepEqual(
        events.map((e) => [e.type, e.subject]),
        [
          ['dev.kura.blob.pushed', `team/app@${img.config.digest}`],
          ['dev.kura.blob.pushed', `team/app@${layer}`],
          ['dev.kura.manifest.pushed', 'team/app:v1'],
          ['dev.kura.blob.pulled', `team/app@${layer}`],
          ['dev.kura.blob.mounted', `team/other@${layer}`],
          ['dev.kura.tag.deleted', 'team/app:v1'],
          ['dev.kura.manifest.deleted', `team/app@${m}`],
          ['dev.kura.blob.deleted', `team/other@${layer}`],
        ],
      );
      const push = events[2]!;
      assert.equal(push.specversion, '1.0');
      assert.equal(push.source, kura.url);
      assert.equal(push.datacontenttype, 'application/json');
      assert.ok(Math.abs(Date.parse(push.time) - Date.now()) < 60_000);
      assert.deepEqual(
        { ...push.data, request: undefined },
        {
          action: 'push',
          repository: 'team/app',
          digest: m,
          mediaType: img.manifest.mediaType,
          size: img.manifest.bytes.length,
          tag: 'v1',
          url: `${kura.url}/v2/team/app/manifests/${m}`,
          request: undefined,
        },
      );
      assert.equal(push.data.request?.method, 'PUT');
      assert.equal(events[4]!.data.fromRepository, 'team/app');
      // One change, one id, whatever the format; a rejected post was sent again with the same id.
      assert.deepEqual(
        events.map((e) => e.id),
        distEvents.map((e) => e.id),
      );
      assert.equal(ce.rejected.length, 2);
      const retriedIds = ce.rejected.map((b) => (JSON.parse(b.toString('utf8')) as KuraCloudEvent).id);
      assert.deepEqual(retriedIds, [events[0]!.id, events[0]!.id]);
      // registry:2 envelopes are signed the same way when the endpoint has a secret (here from a file).
      for (const p of dist.posts) verify(p.headers, p.raw, FILE_SECRET);
      const logs = kura.logs();
      assert.ok(!`${logs.stdout}${logs.stderr}`.includes(SECRET), 'the secret is never logged');
    } finally {
      await kura.stop();
      await ce.stop();
      await dist.stop();
    }
  });

  test('bad endpoint settings stop the server with one error line', async () => {
    const dir = tempDir();
    const cases: [string, RegExp][] = [
      [`{name: a, url: 'http://127.0.0.1:9/x', format: avro}`, /format/],
      [`{name: a, url: 'http://127.0.0.1:9/x', secret: short}`, /at least 16 characters/],
      [`{name: a, url: 'http://127.0.0.1:9/x', secret: ${SECRET}, secretFile: /x}`, /secret or secretFile/],
      [`{name: a, url: 'http://127.0.0.1:9/x', secretFile: '${join(dir, 'missing')}'}`, /cannot read secretFile/],
    ];
    for (const [endpoint, message] of cases) {
      const config = join(dir, 'kura.yaml');
      await writeFile(config, `listen: 127.0.0.1:0\nnotifications:\n  endpoints:\n    - ${endpoint}\n`);
      const run = await kuraFails(['serve', '--config', config, '--data', join(dir, 'data')]);
      assert.match(run.stderr, /^kura: error: /m, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
  });
});
