/**
 * The CI templates of ci/: the GitHub composite action and example workflow pass @action-validator/core (and
 * a broken copy does not); the GitLab template's jobs run under gitlab-ci-local (shell executor) against a
 * real `kura serve`: build (append + mutate), SBOM, scan (SARIF), push, attach and sign.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { validateAction, validateWorkflow } from '@action-validator/core';
import { kuraOk } from './helpers.js';
import {
  KURA_MAIN,
  REPO_ROOT,
  hasTool,
  loadTestImages,
  makeTestImages,
  startKura,
  type KuraProcess,
} from './kura-process.js';

const execFileP = promisify(execFile);
const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');

test('the GitHub composite action and the example workflow validate', () => {
  assert.deepEqual(validateAction(read('ci/github/action.yml')).errors, []);
  assert.deepEqual(validateWorkflow(read('ci/github/workflow.yml')).errors, []);
  const broken = read('ci/github/action.yml').replace('using: composite', 'using: nonsense');
  assert.notDeepEqual(validateAction(broken).errors, [], 'the validator refuses a broken action');
});

const dir = mkdtempSync(join(tmpdir(), 'kura-ci-tpl-'));
let server: KuraProcess | undefined;
before(async () => {
  server = await startKura({});
});
after(async () => {
  await server?.stop();
  if (server) rmSync(server.dataDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

test('the GitLab template: every job runs with gitlab-ci-local against kura serve', async () => {
  assert.ok(hasTool('git'), 'git is needed (CI installs it: .ci/run)');
  const gcl = join(REPO_ROOT, 'node_modules', '.bin', 'gitlab-ci-local');
  assert.ok(existsSync(gcl), 'gitlab-ci-local is a devDependency: run npm ci');
  const tiny = (await loadTestImages(await makeTestImages())).get('tiny')!;
  const project = join(dir, 'project');
  mkdirSync(join(project, 'app'), { recursive: true });
  writeFileSync(join(project, 'app', 'index.txt'), 'hello from the pipeline\n');
  copyFileSync(join(REPO_ROOT, 'ci', 'gitlab', 'kura.gitlab-ci.yml'), join(project, '.gitlab-ci.yml'));
  const git = (...a: string[]) => execFileSync('git', ['-C', project, ...a], { encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  git('-c', 'user.email=t@example.invalid', '-c', 'user.name=t', 'add', '.');
  git('-c', 'user.email=t@example.invalid', '-c', 'user.name=t', 'commit', '-q', '-m', 'app');
  const sha = git('rev-parse', 'HEAD');
  // An empty advisory database (the scan job would download one otherwise) and a signing key.
  mkdirSync(join(dir, 'osv'));
  await kuraOk(['db', 'import', join(dir, 'osv'), '--db-dir', join(dir, 'db')]);
  const env = { ...process.env, KURA_PASSWORD: 'pw' };
  await kuraOk(['key', 'generate', '--output-key-prefix', join(dir, 'cosign')], { env });
  const image = `${server!.host}/demo/pipeline`;
  const vars = {
    KURA: `${process.execPath} ${KURA_MAIN}`,
    KURA_IMAGE: image,
    KURA_BASE: `oci:${tiny.layout}:latest`,
    KURA_CONTEXT: 'app',
    KURA_CMD: '["/app/index.txt"]',
    KURA_DB_DIR: join(dir, 'db'),
    KURA_SIGN_KEY: join(dir, 'cosign.key'),
    KURA_PASSWORD: 'pw',
  };
  const args = ['--shell-executor-no-image', '--home', join(dir, 'gcl-home')];
  for (const [k, v] of Object.entries(vars)) args.push('--variable', `${k}=${v}`);
  try {
    await execFileP(gcl, args, { cwd: project, env, timeout: 300_000, maxBuffer: 64 << 20 });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    assert.fail(`gitlab-ci-local failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
  // The tags computed from the pipeline's git state, pushed; the image carries labels and the app layer.
  const tags = (await kuraOk(['tags', image])).stdout.trim().split('\n').sort();
  assert.ok(tags.includes('main'), tags.join(' '));
  assert.ok(tags.includes(`sha-${sha.slice(0, 7)}`), tags.join(' '));
  const config = JSON.parse((await kuraOk(['config', `${image}:main`])).stdout) as {
    config: { Cmd: string[]; Labels: Record<string, string> };
  };
  assert.deepEqual(config.config.Cmd, ['/app/index.txt']);
  assert.equal(config.config.Labels['org.opencontainers.image.revision'], sha);
  assert.equal((await kuraOk(['cat', `${image}:main`, '/app/index.txt'])).stdout, 'hello from the pipeline\n');
  // The SBOM and scan reports were written, the signature verifies, the SBOM is attached as a referrer.
  const sarif = JSON.parse(readFileSync(join(project, 'kura-scan.sarif'), 'utf8')) as { version: string };
  assert.equal(sarif.version, '2.1.0');
  assert.ok(existsSync(join(project, 'kura-sbom.spdx.json')));
  await kuraOk(['verify', '--key', join(dir, 'cosign.pub'), `${image}:main`]);
  assert.match((await kuraOk(['tree', `${image}:main`])).stdout, /spdx/i);
});
