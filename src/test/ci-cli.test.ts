/** `kura ci tags` as a process: GitHub Actions env in; lines, JSON, $GITHUB_OUTPUT out; bad input is one error line. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runKura } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-ci-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37';
function ghEnv(ref: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const event = join(dir, 'event.json');
  writeFileSync(event, JSON.stringify({ repository: { name: 'app', default_branch: 'main', license: null } }));
  return {
    PATH: process.env.PATH,
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_REF: ref,
    GITHUB_SHA: SHA,
    GITHUB_EVENT_PATH: event,
    SOURCE_DATE_EPOCH: '1578616200',
    ...extra,
  };
}

const RULES = 'type=ref,event=branch\ntype=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}';

test('tags as lines, from a newline-separated list of rules and two images', async () => {
  const r = await runKura(['ci', 'tags', '--image', 'Name/App\nghcr.io/o/app', '--tag', RULES, '--tag', 'type=sha'], {
    env: ghEnv('refs/tags/v1.2.3'),
    cwd: dir,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      'name/app:1.2.3',
      'name/app:1.2',
      'name/app:sha-860c190',
      'name/app:latest',
      'ghcr.io/o/app:1.2.3',
      'ghcr.io/o/app:1.2',
      'ghcr.io/o/app:sha-860c190',
      'ghcr.io/o/app:latest',
      '',
    ].join('\n'),
  );
});

test('--print labels and version; --json', async () => {
  const env = ghEnv('refs/tags/v2.0.8-beta.67');
  const labels = await runKura(['ci', 'tags', '--tag', RULES, '--print', 'labels'], { env, cwd: dir });
  assert.match(labels.stdout, /^org\.opencontainers\.image\.created=2020-01-10T00:30:00\.000Z$/m);
  assert.match(labels.stdout, /^org\.opencontainers\.image\.version=2\.0\.8-beta\.67$/m);
  const version = await runKura(['ci', 'tags', '--tag', RULES, '--print', 'version'], { env, cwd: dir });
  assert.equal(version.stdout, '2.0.8-beta.67\n');
  const json = JSON.parse((await runKura(['ci', 'tags', '--json'], { env, cwd: dir })).stdout) as { tags: string[] };
  assert.deepEqual(json.tags, ['v2.0.8-beta.67'], 'a prerelease tag is not latest');
});

test('--github-output appends the outputs in the runner multiline form', async () => {
  const out = join(dir, 'github-output');
  writeFileSync(out, 'earlier=1\n');
  const r = await runKura(['ci', 'tags', '--image', 'name/app', '--github-output', '--print', 'version'], {
    env: ghEnv('refs/heads/main', { GITHUB_OUTPUT: out }),
    cwd: dir,
  });
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(out, 'utf8');
  assert.ok(text.startsWith('earlier=1\n'));
  const values: Record<string, string> = {};
  for (const m of text.matchAll(/^(\w+)<<(ghadelimiter_[0-9a-f-]+)\n([\s\S]*?)\n\2$/gm)) values[m[1]!] = m[3]!;
  assert.deepEqual(Object.keys(values), ['version', 'tags', 'labels', 'annotations', 'json']);
  assert.equal(values.version, 'main');
  assert.equal(values.tags, 'name/app:main');
  assert.match(values.annotations!, /^manifest:org\.opencontainers\.image\.title=app$/m);
  assert.deepEqual((JSON.parse(values.json!) as { tags: string[] }).tags, ['name/app:main']);
});

test('bad input: one error line, exit 2', async () => {
  const env = ghEnv('refs/heads/main');
  const cases: [string[], RegExp][] = [
    [['--tag', 'type=semver'], /needs pattern=/],
    [['--flavor', 'latest=sometimes'], /latest is auto\|true\|false/],
    [['--github-output'], /needs GITHUB_OUTPUT set/],
    [['--context', 'jenkins'], /--context takes auto, github, gitlab or git/],
  ];
  for (const [args, re] of cases) {
    const r = await runKura(['ci', 'tags', ...args], { env, cwd: dir });
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^kura: error: /);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, re);
  }
});
