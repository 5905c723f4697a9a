/** The token bucket, the circuit breaker, single-flight and the private-address check, on an injected clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SingleFlight } from './flight.js';
import { CircuitBreaker, TokenBucket } from './guards.js';
import { isPrivateAddress } from './private.js';

test('token bucket: capacity at once, then refilled over the window', () => {
  let now = 0;
  const b = new TokenBucket(3, 3000, () => now);
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
  assert.equal(b.waitMs(), 1000);
  now = 999;
  assert.equal(b.take(), false);
  now = 1000;
  assert.equal(b.take(), true);
  now = 100_000;
  assert.equal(b.left(), 3, 'never above capacity');
});

test('circuit breaker: opens after the threshold, half-opens for one trial, closes on success', () => {
  let now = 0;
  const c = new CircuitBreaker(2, 1000, () => now);
  c.failed();
  assert.equal(c.state, 'closed');
  c.failed();
  assert.equal(c.state, 'open');
  assert.equal(c.allow(), false);
  now = 1000;
  assert.equal(c.state, 'half-open');
  assert.equal(c.allow(), true);
  assert.equal(c.allow(), false, 'one trial at a time');
  c.failed();
  assert.equal(c.state, 'open', 'a failed trial opens it again');
  now = 2000;
  assert.equal(c.allow(), true);
  c.succeeded();
  assert.equal(c.state, 'closed');
  c.failed(5000);
  assert.equal(c.state, 'open', 'a Retry-After opens it at once');
  now = 6999;
  assert.equal(c.state, 'open');
  now = 7000;
  assert.equal(c.state, 'half-open');
});

test('single-flight: concurrent callers share one call; a new call after it settles', async () => {
  const f = new SingleFlight<number>();
  let calls = 0;
  const fn = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 10));
    return calls;
  };
  const results = await Promise.all(Array.from({ length: 20 }, () => f.run('k', fn)));
  assert.deepEqual(new Set(results), new Set([1]));
  assert.equal(await f.run('k', fn), 2);
  assert.equal(f.size, 0);
});

test('private addresses: loopback, link-local, RFC 1918, ULA and mapped forms; public ones pass', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '::1', 'fe80::1'])
    assert.equal(isPrivateAddress(a), true, a);
  for (const a of ['fd00::1', '::ffff:127.0.0.1', '[::1]', '0.0.0.0', '100.64.0.1'])
    assert.equal(isPrivateAddress(a), true, a);
  for (const a of ['8.8.8.8', '172.32.0.1', '2606:4700::1111', '44.1.2.3']) assert.equal(isPrivateAddress(a), false, a);
});
