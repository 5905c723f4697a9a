// BlobLinkCache: filled only while its feed is connected, never after a removal it raced with, bounded (LRU).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BlobGoneFeed, BlobGoneListener } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';
import { BlobLinkCache } from './lookups.js';

/** A feed the test drives by hand: it says when it is connected and what was removed. */
class HandFeed implements BlobGoneFeed {
  listener: BlobGoneListener | undefined;
  subscribe(l: BlobGoneListener): () => void {
    this.listener = l;
    return () => (this.listener = undefined);
  }
}

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as Digest;

/** A store read that counts its calls and answers from `links` (repo\0digest → size). */
function store(links: Map<string, number>) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    load: (repo: string, digest: Digest) => async () => {
      reads++;
      return links.get(`${repo}\0${digest}`) ?? null;
    },
  };
}

test('without a connected feed every read goes to the store; once connected, hits stay in the process', async () => {
  const links = new Map([[`app\0${d(1)}`, 10]]);
  const s = store(links);
  const none = new BlobLinkCache(undefined);
  for (let i = 0; i < 3; i++) assert.equal(await none.get('app', d(1), s.load('app', d(1))), 10);
  assert.equal(s.reads, 3, 'no feed (one process, SQLite or memory): nothing cached');

  const feed = new HandFeed();
  const cache = new BlobLinkCache(feed);
  assert.equal(await cache.get('app', d(1), s.load('app', d(1))), 10);
  assert.ok(feed.listener, 'subscribed on first use');
  assert.equal(s.reads, 4, 'not connected yet: not cached');
  feed.listener.connected(true);
  await cache.get('app', d(1), s.load('app', d(1)));
  await cache.get('app', d(1), s.load('app', d(1)));
  assert.equal(s.reads, 5, 'connected: the second read is a hit');
  assert.equal(await cache.get('other', d(1), s.load('other', d(1))), null, 'another repository is its own link');
  assert.equal(await cache.get('other', d(1), s.load('other', d(1))), null);
  assert.equal(s.reads, 7, 'a missing link is never cached');

  // A removal evicts the digest in every repository; a lost connection empties the cache and turns it off.
  links.set(`other\0${d(1)}`, 10);
  await cache.get('other', d(1), s.load('other', d(1)));
  assert.equal(cache.size, 2);
  feed.listener.gone([d(1)]);
  assert.equal(cache.size, 0);
  links.delete(`app\0${d(1)}`);
  assert.equal(await cache.get('app', d(1), s.load('app', d(1))), null);
  await cache.get('other', d(1), s.load('other', d(1)));
  feed.listener.connected(false);
  assert.equal(cache.size, 0);
  const before = s.reads;
  await cache.get('other', d(1), s.load('other', d(1)));
  await cache.get('other', d(1), s.load('other', d(1)));
  assert.equal(s.reads, before + 2, 'disconnected: bypassed');
  feed.listener.connected(true);
  await cache.get('other', d(1), s.load('other', d(1)));
  feed.listener.gone('all');
  assert.equal(cache.size, 0, "'all' forgets everything");
});

test('a read that overlapped a removal or a reconnection is not cached', async () => {
  const feed = new HandFeed();
  const cache = new BlobLinkCache(feed);
  await cache.get('app', d(9), async () => null);
  feed.listener!.connected(true);
  for (const event of [() => feed.listener!.gone([d(2)]), () => feed.listener!.connected(true)]) {
    let release!: (size: number) => void;
    const pending = cache.get('app', d(1), () => new Promise<number>((r) => (release = r)));
    event(); // another digest's removal, or the feed reconnecting, while the read is out
    release(10);
    assert.equal(await pending, 10);
    assert.equal(cache.size, 0, 'the read that raced is answered but not kept');
  }
  await cache.get('app', d(1), async () => 10);
  assert.equal(cache.size, 1, 'the next read is kept');
});

test('the cache is bounded: the least recently used links go first', async () => {
  const feed = new HandFeed();
  const cache = new BlobLinkCache(feed, 3);
  await cache.get('r', d(0), async () => 1);
  feed.listener!.connected(true);
  for (const n of [1, 2, 3]) await cache.get('r', d(n), async () => n);
  await cache.get('r', d(1), async () => assert.fail('a hit'));
  await cache.get('r', d(4), async () => 4);
  assert.equal(cache.size, 3);
  let reads = 0;
  for (const n of [1, 3, 4]) await cache.get('r', d(n), async () => ++reads);
  assert.equal(reads, 0, 'd1 (used), d3 and d4 stayed');
  assert.equal(await cache.get('r', d(2), async () => 22), 22, 'd2, the least recently used, was dropped');
});
