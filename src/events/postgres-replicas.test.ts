// Two replicas delivering one PostgreSQL outbox to a flaky receiver: every event arrives once, in order per repository.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PgMetadataStore } from '../metadata/postgres/index.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';
import { Receiver } from '../test/webhook-receiver.js';
import { EventDelivery } from './delivery.js';
import type { EndpointConfig } from './types.js';

const url = await postgresUrl();

describe('events across replicas on PostgreSQL', { skip: url ? false : POSTGRES_SKIP }, () => {
  let drop: () => Promise<void>;
  let stores: PgMetadataStore[] = [];
  const receiver = new Receiver();
  before(async () => {
    const fresh = await freshSchema(url!);
    drop = fresh.drop;
    stores = [
      await PgMetadataStore.open({ url: url!, schema: fresh.schema, poolSize: 3 }),
      await PgMetadataStore.open({ url: url!, schema: fresh.schema, poolSize: 3 }),
    ];
    await receiver.start();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await drop?.();
    await receiver.stop();
  });

  test('each event is delivered by one replica, once, and in order per repository', async () => {
    const endpoint: EndpointConfig = {
      name: 'hook',
      url: receiver.url,
      disabled: false,
      headers: {},
      timeoutMs: 2000,
      threshold: 1000,
      backoffMs: 10,
      ignoredMediaTypes: [],
      ignoredActions: [],
    };
    const byReplica = [0, 0];
    const replicas = stores.map(
      (s, i) => new EventDelivery(s.events, [endpoint], { delivered: (_e, n) => (byReplica[i]! += n) }),
    );
    let n = 0;
    // Written from both replicas while both deliver; a third of the posts fail and are retried.
    receiver.flaky = () => Math.random() < 0.3;
    const repos = ['a', 'b', 'c', 'd', 'e'];
    const write = async (from: number, to: number) => {
      for (let round = from; round < to; round++) {
        const batch = repos.map((repo) => ({ endpoint: 'hook', repo, payload: JSON.stringify({ repo, n: n++ }) }));
        await stores[round % 2]!.events.append(batch);
      }
    };
    let writing = true;
    const deliver = async (d: EventDelivery) => {
      for (;;) {
        const claimed = await d.round();
        if (!writing && claimed === 0 && Object.keys(await stores[0]!.events.backlog()).length === 0) return;
        if (claimed === 0) await new Promise((r) => setTimeout(r, 5));
      }
    };
    // Each replica first delivers on its own, so that both take part whatever the timing; then both at once.
    for (const i of [0, 1]) {
      await write(i * 5, i * 5 + 5);
      while (byReplica[i] === 0) await replicas[i]!.round();
    }
    const running = replicas.map(deliver);
    await write(10, 40);
    writing = false;
    await Promise.all(running);
    const got = receiver.events as unknown as { repo: string; n: number }[];
    assert.equal(got.length, 200, 'every event once');
    assert.equal(new Set(got.map((e) => e.n)).size, 200);
    for (const repo of repos) {
      const seq = got.filter((e) => e.repo === repo).map((e) => e.n);
      assert.deepEqual(
        seq,
        [...seq].sort((x, y) => x - y),
        `events of ${repo} in order`,
      );
    }
    assert.ok(byReplica[0]! > 0 && byReplica[1]! > 0, `both replicas delivered: ${byReplica.join(' + ')}`);
  });
});
