import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanSize } from './units.js';

test('sizes in decimal units as go-units prints them (docker, dive)', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(3_620_000), '3.62MB');
  assert.equal(humanSize(187_000_000), '187MB');
  assert.equal(humanSize(1_500, 3), '1.5kB');
});

test('sizes in binary units with a decimal and a space (kura usage, next to quotas)', () => {
  assert.equal(humanSize(512, 1, 'binary'), '512 B');
  assert.equal(humanSize(1536, 1, 'binary'), '1.5 KiB');
  assert.equal(humanSize(10 * 1024 ** 3, 1, 'binary'), '10.0 GiB');
  assert.equal(humanSize(2 * 1024 ** 5, 1, 'binary'), '2048.0 TiB');
});
