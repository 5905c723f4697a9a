// Property tests of the version orderings against the ecosystems' own tools here: dpkg, rpm, Python's packaging.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import semver from 'semver';
import { prng } from '../../oci/random.js';
import { compareScheme, InvalidVersionError, type VersionScheme } from './index.js';

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** A generator of random strings from pieces, and of near neighbours (the pairs where orderings differ). */
function gen(seed: number) {
  const r = prng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const run = (alphabet: string, min: number, max: number) => {
    let s = '';
    for (let i = min + int(max - min + 1); i > 0; i--) s += alphabet[int(alphabet.length)];
    return s;
  };
  return { r, int, pick, run };
}

/** Pairs: random ones, a version against a small change of itself, and fixed edge cases. */
function pairs(n: number, seed: number, one: () => string, mutate: (v: string) => string, edge: string[][]) {
  const g = gen(seed);
  const out: [string, string][] = edge.map(([a, b]) => [a!, b!]);
  while (out.length < n) {
    const a = one();
    out.push(g.r() < 0.3 ? [a, one()] : [a, mutate(a)]);
  }
  return out;
}

/** Pairs where Kura and the tool disagree; the tool's answer `E` means it refused a version, and Kura must too. */
function mismatches(scheme: VersionScheme, ps: [string, string][], expected: string[]): string[] {
  assert.equal(expected.length, ps.length, 'the tool answered every pair');
  const bad: string[] = [];
  ps.forEach(([a, b], i) => {
    let got: string;
    try {
      got = String(compareScheme(scheme, a, b));
    } catch (e) {
      if (!(e instanceof InvalidVersionError)) throw e;
      got = 'E';
    }
    if (got !== expected[i]) bad.push(`${a} vs ${b}: kura ${got}, tool ${expected[i]}`);
  });
  return bad;
}

const DPKG_EDGE = [
  ['1.0~rc1', '1.0'],
  ['1.0~~', '1.0~'],
  ['1.0', '1.0-0'],
  ['1:0.1', '2.0'],
  ['0:1.0', '1.0'],
  ['1.0a', '1.0+'],
  ['1.0.', '1.0'],
  ['1.01', '1.1'],
  ['1.0-1~bpo1', '1.0-1'],
  ['2.36.1-8+deb12u1', '2.36.1-8'],
  ['1.2.3-4-5', '1.2.3-4'],
  ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12'],
  ['1.0-', '1.0'],
  ['x:1.0', '1.0'],
  [':1.0', '1.0'],
  ['1:', '1.0'],
];

test(
  'dpkg: 10,000 random and edge-case pairs order as dpkg --compare-versions',
  {
    skip: has('dpkg', ['--version']) ? false : 'dpkg is not installed',
  },
  () => {
    const g = gen(16);
    const up = () => `${g.int(10)}${g.run('0123456789.abcAB+~', 0, 6)}`;
    const one = () => {
      const e = g.r() < 0.2 ? `${g.int(3)}:` : '';
      const rev = g.r() < 0.5 ? `-${g.run('0123456789.a+~', 1, 4)}` : '';
      return `${e}${up()}${rev}`;
    };
    const mutate = (v: string) => {
      const k = g.int(5);
      if (k === 0)
        return v + g.pick(['~', '0', 'a', '.', '+', '~rc1', '-1']).replace(/-1$/, v.includes('-') ? '1' : '-1');
      if (k === 1) return v.replace(/\d/, (d) => String((Number(d) + 1) % 10));
      if (k === 2) return v.replace(/(\d)/, '0$1');
      if (k === 3) return v.replace(/~/, '');
      return v;
    };
    const ps = pairs(10_000, 17, one, mutate, DPKG_EDGE);
    const dir = mkdtempSync(join(tmpdir(), 'kura-dpkg-'));
    try {
      // One shell runs them all: one dpkg per pair when it is "lt", two otherwise; exit status 2 is a refused version.
      const q = (s: string) => `'${s}'`;
      const lines = ps.map(
        ([a, b]) =>
          `dpkg --compare-versions ${q(a)} lt ${q(b)} 2>/dev/null; r=$?; if [ $r = 0 ]; then echo -1; ` +
          `elif [ $r = 2 ]; then echo E; elif dpkg --compare-versions ${q(a)} eq ${q(b)}; then echo 0; else echo 1; fi`,
      );
      writeFileSync(join(dir, 'run.sh'), lines.join('\n') + '\n');
      const out = execFileSync('sh', [join(dir, 'run.sh')], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const bad = mismatches('dpkg', ps, out.trim().split('\n'));
      assert.deepEqual(bad.slice(0, 20), [], `${bad.length} of ${ps.length} pairs differ`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'rpm: 10,000 random and edge-case pairs order as rpm.vercmp (rpm 4.18)',
  {
    skip: has('rpm', ['--version']) ? false : 'rpm is not installed',
  },
  () => {
    const g = gen(26);
    const part = () => g.run('0123456789abcXY._+~^', 1, 7);
    const one = () => {
      const e = g.r() < 0.2 ? `${g.int(3)}:` : '';
      const rel = g.r() < 0.5 ? `-${g.run('0123456789.el~^', 1, 5)}` : '';
      return `${e}${g.int(10)}${part()}${rel}`;
    };
    const mutate = (v: string) => {
      const k = g.int(5);
      if (k === 0) return v + g.pick(['~', '^', '0', 'a', '.', '^git1', '~rc1', '.1']);
      if (k === 1) return v.replace(/\d/, (d) => String((Number(d) + 1) % 10));
      if (k === 2) return v.replace(/(\d)/, '0$1');
      if (k === 3) return v.replace(/[~^]/, '');
      return v;
    };
    const edge = [
      ['1.0~rc1', '1.0'],
      ['1.0^git1', '1.0'],
      ['1.0^git1', '1.0.1'],
      ['1.0-1', '1.0'],
      ['1:1.0', '2.0'],
      ['1.a', '1.1'],
      ['1.0.el8', '1.0.el8_4'],
      ['2.28-225.el9', '2.28-225.el9_2.1'],
    ];
    const ps = pairs(10_000, 27, one, mutate, edge);
    const dir = mkdtempSync(join(tmpdir(), 'kura-rpm-'));
    try {
      const file = join(dir, 'pairs');
      writeFileSync(file, ps.map(([a, b]) => `${a} ${b}`).join('\n') + '\n');
      const lua =
        `for line in io.lines("${file}") do local a, b = line:match("^(%S+) (%S+)$"); ` +
        'io.write(rpm.vercmp(a, b), "\\n") end';
      const out = execFileSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const bad = mismatches('rpm', ps, out.trim().split('\n'));
      assert.deepEqual(bad.slice(0, 20), [], `${bad.length} of ${ps.length} pairs differ`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

const PY = '/usr/bin/python3';
const PY_CMP = `
import sys
from packaging.version import InvalidVersion, Version
for line in sys.stdin:
    a, b = line.split()
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        print('E')
        continue
    print(-1 if x < y else (1 if x > y else 0))
`;

test(
  'PEP 440: 5,000 random and edge-case pairs order as Python packaging',
  {
    skip: has(PY, ['-c', 'import packaging.version']) ? false : `no ${PY} with packaging (Debian python3-packaging)`,
  },
  () => {
    const g = gen(36);
    const one = () => {
      let v = g.r() < 0.1 ? `${g.int(3)}!` : '';
      v += Array.from({ length: 1 + g.int(4) }, () => g.int(12)).join('.');
      if (g.r() < 0.4) v += g.pick(['a', 'b', 'rc', 'c', 'alpha', 'beta', 'pre', 'preview', '-rc', '.a']) + g.int(3);
      if (g.r() < 0.3) v += g.pick(['.post', '-post', '.r', '.rev', '-']) + g.int(3);
      if (g.r() < 0.3) v += g.pick(['.dev', '-dev', 'dev']) + g.int(3);
      if (g.r() < 0.15) v += `+${g.pick(['local', 'ubuntu', 'abc.1', '7'])}${g.int(3)}`;
      return g.r() < 0.1 ? `v${v}` : v;
    };
    const mutate = (v: string) => {
      const k = g.int(4);
      if (k === 0) return v.replace(/\d+/, (d) => String(Number(d) + 1));
      if (k === 1) return `${v.replace(/\+.*/, '')}.0`;
      if (k === 2) return v.replace(/(\d)$/, '$1.post1');
      return v.toUpperCase();
    };
    const edge = [
      ['1.0.dev0', '1.0a0'],
      ['1.0a1', '1.0'],
      ['1.0', '1.0.post0'],
      ['1.0+local', '1.0'],
      ['1.0', '1.0.0'],
      ['1!0.1', '2.0'],
      ['1.0.post1.dev1', '1.0.post1'],
      ['1.0rc1.post1', '1.0rc2'],
    ];
    const ps = pairs(5_000, 37, one, mutate, edge);
    const out = execFileSync(PY, ['-c', PY_CMP], {
      input: ps.map(([a, b]) => `${a} ${b}`).join('\n') + '\n',
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const bad = mismatches('pep440', ps, out.trim().split('\n'));
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} of ${ps.length} pairs differ`);
  },
);

test('npm and Go: 5,000 pairs order as node-semver (Go: with the v, shorthands and +incompatible)', () => {
  const g = gen(46);
  const one = () => {
    let v = `${g.int(4)}.${g.int(4)}.${g.int(4)}`;
    if (g.r() < 0.5) v += `-${g.pick(['alpha', 'beta', 'rc', '0', '1', 'alpha.1', 'rc.10', 'x-y'])}`;
    if (g.r() < 0.1) v += `+build${g.int(3)}`;
    return v;
  };
  const mutate = (v: string) => (g.r() < 0.5 ? v.replace(/-.*/, '') : v.replace(/\d+/, (d) => String(Number(d) + 1)));
  const ps = pairs(5_000, 47, one, mutate, [
    ['1.0.0-rc.1', '1.0.0'],
    ['1.0.0-alpha', '1.0.0-alpha.1'],
  ]);
  const bad: string[] = [];
  for (const [a, b] of ps) {
    const want = semver.compare(a, b);
    if (compareScheme('npm', a, b) !== want) bad.push(`npm ${a} vs ${b}`);
    if (compareScheme('go', `v${a}`, `v${b}`) !== want) bad.push(`go v${a} vs v${b}`);
  }
  assert.deepEqual(bad.slice(0, 20), []);
  // Go: +incompatible is build metadata; pseudo-versions are prereleases of the next patch.
  assert.equal(compareScheme('go', 'v2.0.0+incompatible', 'v2.0.0'), 0);
  assert.equal(compareScheme('go', 'v0.0.0-20191109021931-daa7c04131f5', 'v0.0.1'), -1);
  assert.equal(compareScheme('go', 'v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.3'), 1);
  assert.equal(compareScheme('go', 'v1.2', 'v1.2.0'), 0);
});
