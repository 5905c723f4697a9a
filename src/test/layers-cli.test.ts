import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { parseBytes, parseCiRules, CiConfigError } from '../analysis/dive-ci.js';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/layout/index.js';
import { runKura } from './helpers.js';
import { tempDir } from './tempdirs.js';

const dir = tempDir('kura-layers-');
const store = join(dir, 'store');
const env = (extra: Record<string, string> = {}) => {
  const e: NodeJS.ProcessEnv = { ...process.env, KURA_STORE: store, ...extra };
  if (!('CI' in extra)) delete e.CI;
  return e;
};
const kura = (args: string[], extra: Record<string, string> = {}) => runKura(args, { cwd: dir, env: env(extra) });

let image: string;
before(async () => {
  // Layer 0: base 1000 bytes; layer 1: big (10 000) and a 1000-byte copy of base/x; layer 2: deletes big.
  // a/x: [1000, 1000] · big: [10000, removed] → Σmin 1000, Σcum 12000; wasted 1000 + 10000 = 11000; user 11000 bytes.
  const art = await randomImage({
    files: [
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/x', data: Buffer.alloc(1000, 1) },
      ],
      [
        { name: 'a/x', data: Buffer.alloc(1000, 2) },
        { name: 'big', data: Buffer.alloc(10000, 3) },
      ],
      [{ name: '.wh.big' }],
    ],
  });
  image = `oci:${join(dir, 'layout')}:v1`;
  await new OciLayout(join(dir, 'layout')).write('v1', art);
});

test('units and defaults of .dive-ci as dive reads them', () => {
  assert.equal(parseBytes('20MB'), 20_000_000);
  assert.equal(parseBytes('20MiB'), 20 * 1024 * 1024);
  assert.equal(parseBytes('1.5 kB'), 1500);
  assert.equal(parseBytes('42'), 42);
  assert.equal(parseBytes('3k'), 3000);
  assert.throws(() => parseBytes('20 parsecs'), CiConfigError);
  assert.deepEqual(parseCiRules(''), { lowestEfficiency: 0.9, highestUserWastedPercent: 0.1 });
  assert.deepEqual(parseCiRules('rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: 1MB\n'), {
    highestWastedBytes: 1_000_000,
    highestUserWastedPercent: 0.1,
  });
  assert.throws(() => parseCiRules('rules:\n  lowestEfficency: 0.5\n'), /unknown rule "lowestEfficency"/);
});

test(
  'kura layers: a row per history step (the empty one too), sizes, changes, efficiency and waste; --json; the ' +
    'cache spares a second read',
  async () => {
    const r = await kura(['layers', '--json', image, '--files']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as Record<string, unknown> & {
      rows: Record<string, unknown>[];
      files: { path: string; wasted: number }[];
    };
    assert.equal(doc.rows.length, 4);
    assert.deepEqual(
      doc.rows.map((x) => [x.emptyLayer, x.layer, x.size, x.added, x.modified, x.removed]),
      [
        [false, 0, 1000, 1, 0, 0],
        [false, 1, 11000, 1, 1, 0],
        [false, 2, 0, 0, 0, 1],
        [true, undefined, 0, 0, 0, 0],
      ],
    );
    assert.ok((doc.rows[0]!.compressedSize as number) > 0 && (doc.rows[0]!.uncompressedSize as number) >= 2048);
    assert.equal(doc.efficiency, 1000 / 12000);
    assert.equal(doc.wastedBytes, 11000);
    assert.equal(doc.diveWastedBytes, 12000);
    assert.equal(doc.userWastedPercent, 1);
    assert.deepEqual(
      doc.files.map((f) => [f.path, f.wasted]),
      [
        ['big', 10000],
        ['a/x', 1000],
      ],
    );
    assert.equal(doc.layersRead, 3);
    assert.equal(readdirSync(join(store, 'index', 'sha256')).length, 3, 'one cached index per layer');
    const again = JSON.parse((await kura(['layers', '--json', image])).stdout) as {
      layersRead: number;
      wastedBytes: number;
    };
    assert.deepEqual([again.layersRead, again.wastedBytes], [0, 11000]);
    const nocache = JSON.parse((await kura(['layers', '--json', '--no-cache', image])).stdout) as {
      layersRead: number;
    };
    assert.equal(nocache.layersRead, 3);
    const table = await kura(['layers', '--files', '1', image]);
    assert.match(table.stdout, /^STEP\s+LAYER\s+COMPRESSED/);
    assert.match(table.stdout, /<empty>/);
    assert.match(table.stdout, /Wasted bytes: 11kB \(11000 bytes; dive counts 12000/);
    assert.match(table.stdout, /\/big \(removed\)/);
    assert.doesNotMatch(table.stdout, /\/a\/x/, '--files 1 lists one path');
  },
);

test(
  'kura layers --ci: each dive rule failing and passing, exit 1 on failure, CI=true and .dive-ci found by ' + 'default',
  async () => {
    const cfg = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return name;
    };
    // efficiency 0.0833…, wasted 11000 bytes, user-wasted 1.0
    const cases: [string, string, number, RegExp][] = [
      [
        'eff-fail',
        'rules:\n  lowestEfficiency: 0.09\n  highestUserWastedPercent: disabled\n',
        1,
        /FAIL: lowestEfficiency: image efficiency is too low/,
      ],
      [
        'eff-pass',
        'rules:\n  lowestEfficiency: 0.08\n  highestUserWastedPercent: disabled\n',
        0,
        /PASS: lowestEfficiency/,
      ],
      [
        'bytes-fail',
        'rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: 10kB\n  highestUserWastedPercent: disabled\n',
        1,
        /FAIL: highestWastedBytes: too many bytes wasted \(wasted-bytes=11000 > threshold=10000\)/,
      ],
      [
        'bytes-pass',
        'rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: 11000\n  highestUserWastedPercent: disabled\n',
        0,
        /PASS: highestWastedBytes/,
      ],
      [
        'user-fail',
        'rules:\n  lowestEfficiency: disabled\n  highestUserWastedPercent: 0.99\n',
        1,
        /FAIL: highestUserWastedPercent/,
      ],
      [
        'user-pass',
        'rules:\n  lowestEfficiency: disabled\n  highestUserWastedPercent: 1.0\n',
        0,
        /PASS: highestUserWastedPercent/,
      ],
    ];
    for (const [name, text, code, re] of cases) {
      const r = await kura(['layers', '--ci', '--ci-config', cfg(name, text), image]);
      assert.equal(r.code, code, `${name}: ${r.stderr}`);
      assert.match(r.stdout, re, name);
      assert.match(r.stdout, code ? /Result:FAIL/ : /Result:PASS/);
    }
    // dive's defaults (0.9 efficiency, 0.1 user-wasted) fail this image; CI=true turns CI mode on.
    const defaults = await kura(['layers', image], { CI: 'true' });
    assert.equal(defaults.code, 1);
    assert.match(defaults.stdout, /SKIP: highestWastedBytes: rule disabled/);
    assert.equal((await kura(['layers', image])).code, 0, 'without --ci or CI=true, no rules');
    cfg('.dive-ci', 'rules:\n  lowestEfficiency: 0.01\n  highestUserWastedPercent: 2\n');
    const found = await kura(['layers', '--ci', '--json', image]);
    assert.equal(found.code, 0, found.stderr);
    assert.equal((JSON.parse(found.stdout) as { ci: { pass: boolean } }).ci.pass, true);
    const missing = await kura(['layers', '--ci-config', 'nope.yaml', image]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^kura: error: --ci-config nope.yaml: no such file/);
    const bad = await kura(['layers', '--ci-config', cfg('bad', 'rules:\n  highestWastedBytes: lots\n'), image]);
    assert.match(bad.stderr, /^kura: error: bad: "lots" is not a size/);
    assert.ok(!existsSync(join(dir, 'nope.yaml')));
  },
);
