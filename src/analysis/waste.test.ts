import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { makeTar, type TarFile } from '../oci/random.js';
import { indexLayer, type LayerIndex } from './layer-index.js';
import { analyzeWaste } from './waste.js';

const f = (name: string, size: number): TarFile => ({ name, data: Buffer.alloc(size, 120) });
const d = (name: string): TarFile => ({ name, type: 'directory' });
const wh = (name: string): TarFile => ({ name });

async function indexes(layers: TarFile[][]): Promise<LayerIndex[]> {
  return Promise.all(layers.map(async (l) => indexLayer(Readable.from([await makeTar(l)]))));
}

test(
  'dive’s formulas on a hand-computed example: efficiency = Σmin/Σcum, user-wasted = wasted / Σ size of layers ' +
    '1…n',
  async () => {
    // a: [100, 120] cum 220 min 100 · b: [50, removed 0] cum 50 min 0 · c: [30] · e: [850]
    const w = analyzeWaste(
      await indexes([[f('a', 100), f('b', 50)], [f('a', 120), f('c', 30), f('e', 850)], [wh('.wh.b')]]),
    );
    assert.equal(w.efficiency, 980 / 1150);
    assert.equal(w.totalSize, 150 + 1000);
    assert.equal(w.userSize, 1000, 'layer 0 is the base, as dive takes it');
    // kura: a wastes its hidden first copy (100), b all of it (50); dive adds the kept copy of a (120).
    assert.equal(w.wastedBytes, 150);
    assert.equal(w.diveWastedBytes, 220 + 50);
    assert.equal(w.userWastedPercent, 150 / 1000);
    assert.deepEqual(
      w.files.map((x) => [x.path, x.count, x.wasted, x.cumulative, x.layers, x.removed]),
      [
        ['a', 2, 100, 220, [0, 1], false],
        ['b', 2, 50, 50, [0, 2], true],
      ],
    );
    assert.deepEqual(
      w.layers.map((l) => [l.size, l.added, l.modified, l.removed, l.removedBytes]),
      [
        [150, 2, 0, 0, 0],
        [1000, 2, 1, 0, 0],
        [0, 0, 0, 1, 50],
      ],
    );
  },
);

test(
  'no layers, or nothing but directories: efficiency 1 (dive’s Σcum = 0 case), nothing wasted, user-wasted 0 ' +
    'without a layer 1',
  async () => {
    assert.deepEqual(
      [analyzeWaste([]).efficiency, analyzeWaste([]).wastedBytes, analyzeWaste([]).userWastedPercent],
      [1, 0, 0],
    );
    const w = analyzeWaste(await indexes([[d('x/'), d('x/y/')]]));
    assert.deepEqual([w.efficiency, w.wastedBytes, w.userWastedPercent, w.files.length], [1, 0, 0, 0]);
  },
);

test('deviation 1 (dive#684): a file written N times and kept wastes its N−1 hidden copies, not all N', async () => {
  const w = analyzeWaste(await indexes([[f('big', 1000)], [f('big', 1000)], [f('big', 400)]]));
  assert.equal(w.wastedBytes, 2000, 'the two hidden copies');
  assert.equal(w.diveWastedBytes, 2400, 'dive counts the kept 400 too');
  assert.equal(w.efficiency, 400 / 2400);
  assert.equal(w.userWastedPercent, 2000 / 1400);
});

test('deviation 2 (dive PR #715): a dangling whiteout does not end the walk; later changes still count', async () => {
  const w = analyzeWaste(
    await indexes([
      [f('x', 100)],
      [wh('.wh.never-existed'), wh('gone/.wh.deeper'), f('x', 100), f('y', 7)],
      [wh('.wh.x')],
    ]),
  );
  assert.equal(w.layers[1]!.dangling, 2);
  assert.equal(w.wastedBytes, 200, 'both copies of x, the second after the dangling whiteouts');
  assert.equal(w.efficiency, 7 / 207);
});

test(
  'deviation 3: removing a directory counts its contents (whiteout, opaque marker, replacement by a ' + 'file)',
  async () => {
    const w = analyzeWaste(
      await indexes([
        [
          d('dir/'),
          f('dir/a', 100),
          d('dir/sub/'),
          f('dir/sub/b', 200),
          d('opq/'),
          f('opq/old', 40),
          d('rep/'),
          f('rep/c', 5),
        ],
        [wh('.wh.dir'), wh('opq/.wh..wh..opq'), f('opq/new', 1), f('rep', 2)],
      ]),
    );
    // dive keys the whiteout under "dir" (300 bytes, seen once) and never flags it; kura removes dir/a and dir/sub/b.
    assert.deepEqual(
      w.files.map((x) => [x.path, x.wasted]),
      [
        ['dir/sub/b', 200],
        ['dir/a', 100],
        ['opq/old', 40],
        ['rep/c', 5],
      ],
    );
    assert.equal(w.wastedBytes, 345);
    assert.equal(w.layers[1]!.removed, 4);
    assert.equal(w.layers[1]!.removedBytes, 345);
    assert.equal(w.efficiency, 3 / 348);
  },
);

test('hard links add no bytes; a whiteout applies below its own layer whatever its tar order', async () => {
  const w = analyzeWaste(
    await indexes([
      [f('t', 50), { name: 'h', type: 'link', linkname: 't' }],
      [f('z', 1), wh('.wh.z'), wh('.wh.h')],
    ]),
  );
  // the .wh.z in layer 1 does not remove layer 1's own z; .wh.h removes a hard link (0 bytes of its own)
  assert.equal(w.wastedBytes, 0);
  assert.deepEqual(
    w.layers.map((l) => [l.added, l.removed, l.dangling]),
    [
      [2, 0, 0],
      [1, 1, 1],
    ],
  );
});
