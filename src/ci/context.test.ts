/** Reading the build from GitHub Actions (env + event payload), GitLab CI (CI_* variables) and a real git checkout. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { detectContext, fromGit, fromGitHub, fromGitLab, webUrl } from './context.js';
import { computeMeta } from './meta.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-ci-ctx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('GitHub Actions', () => {
  const payload = join(dir, 'event.json');
  writeFileSync(
    payload,
    JSON.stringify({
      number: 7,
      pull_request: { number: 7, head: { sha: 'f'.repeat(40) }, base: { ref: 'main' } },
      repository: {
        name: 'Hello-World',
        description: 'This your first repo!',
        html_url: 'https://github.com/octocat/Hello-World',
        default_branch: 'main',
        license: { spdx_id: 'MIT' },
      },
    }),
  );
  const env = {
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_REF: 'refs/pull/7/merge',
    GITHUB_SHA: 'a'.repeat(40),
    GITHUB_EVENT_PATH: payload,
  };
  test('a pull request: ref, base ref, repository fields from the payload', () => {
    const c = detectContext('auto', env, dir);
    assert.equal(c.provider, 'github');
    assert.equal(c.ref, 'refs/pull/7/merge');
    assert.equal(c.baseRef, 'main');
    assert.equal(c.defaultBranch, 'main');
    assert.deepEqual(c.repo, {
      title: 'Hello-World',
      description: 'This your first repo!',
      url: 'https://github.com/octocat/Hello-World',
      license: 'MIT',
    });
    assert.deepEqual(computeMeta(c).tags, ['pr-7']);
  });
  test('DOCKER_METADATA_PR_HEAD_SHA=true takes the head commit', () => {
    assert.equal(fromGitHub({ ...env, DOCKER_METADATA_PR_HEAD_SHA: 'true' }, dir).sha, 'f'.repeat(40));
    assert.equal(fromGitHub(env, dir).sha, 'a'.repeat(40));
  });
  test('pull_request_target (ref is the base branch) still names the pull request', () => {
    const c = fromGitHub({ ...env, GITHUB_EVENT_NAME: 'pull_request_target', GITHUB_REF: 'refs/heads/main' }, dir);
    assert.equal(c.ref, 'refs/pull/7/merge');
  });
  test('without a payload the repository address comes from GITHUB_REPOSITORY', () => {
    const c = fromGitHub({ GITHUB_REF: 'refs/heads/main', GITHUB_REPOSITORY: 'o/r', GITHUB_SHA: 'b'.repeat(40) }, dir);
    assert.equal(c.repo.url, 'https://github.com/o/r');
    assert.equal(c.repo.title, 'r');
  });
  test('an unreadable payload is an error naming it', () => {
    assert.throws(() => fromGitHub({ GITHUB_EVENT_PATH: join(dir, 'missing.json') }), /GITHUB_EVENT_PATH=/);
  });
});

describe('GitLab CI', () => {
  const base = {
    GITLAB_CI: 'true',
    CI_COMMIT_SHA: 'c'.repeat(40),
    CI_DEFAULT_BRANCH: 'main',
    CI_PROJECT_NAME: 'app',
    CI_PROJECT_URL: 'https://gitlab.example/g/app',
    CI_COMMIT_TIMESTAMP: '2020-01-10T00:30:00+00:00',
  };
  test('a branch push', () => {
    const c = detectContext('auto', { ...base, CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'feature/x' });
    assert.equal(c.provider, 'gitlab');
    assert.equal(c.ref, 'refs/heads/feature/x');
    assert.equal(c.repo.url, 'https://gitlab.example/g/app');
    assert.equal(c.commitDate?.toISOString(), '2020-01-10T00:30:00.000Z');
    assert.deepEqual(computeMeta(c, { tags: ['type=ref,event=branch', 'type=edge'] }).tags, ['feature-x']);
  });
  test('a tag pipeline, the default branch (edge), a merge request, a schedule', () => {
    const tag = fromGitLab({ ...base, CI_COMMIT_TAG: 'v1.2.3', CI_COMMIT_REF_NAME: 'v1.2.3' });
    assert.deepEqual(computeMeta(tag, { tags: ['type=semver,pattern={{major}}'] }).tags, ['1', 'latest']);
    const main = fromGitLab({ ...base, CI_COMMIT_BRANCH: 'main' });
    assert.deepEqual(computeMeta(main, { tags: ['type=edge'] }).tags, ['edge']);
    const mr = fromGitLab({
      ...base,
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_MERGE_REQUEST_IID: '12',
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
      CI_COMMIT_REF_NAME: 'feature/x',
    });
    assert.deepEqual(computeMeta(mr).tags, ['pr-12']);
    assert.equal(mr.baseRef, 'main');
    const nightly = fromGitLab({ ...base, CI_PIPELINE_SOURCE: 'schedule', CI_COMMIT_BRANCH: 'main' });
    assert.deepEqual(computeMeta(nightly).tags, ['nightly', 'main']);
  });
});

describe('plain git', () => {
  const repo = join(dir, 'repo');
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], {
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_DATE: '2020-01-10T00:30:00Z', GIT_COMMITTER_DATE: '2020-01-10T00:30:00Z' },
    }).trim();
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  git('config', 'user.email', 't@example.invalid');
  git('config', 'user.name', 't');
  git('remote', 'add', 'origin', 'git@github.com:octo/app.git');
  writeFileSync(join(repo, 'f'), 'x');
  git('add', 'f');
  git('commit', '-q', '-m', 'one');
  const sha = git('rev-parse', 'HEAD');
  test('on a branch: the branch, the commit, its date, the remote as a web address', () => {
    const c = fromGit(repo);
    assert.equal(c.ref, 'refs/heads/main');
    assert.equal(c.sha, sha);
    assert.equal(c.commitDate?.toISOString(), '2020-01-10T00:30:00.000Z');
    assert.equal(c.repo.url, 'https://github.com/octo/app');
    assert.equal(c.repo.title, 'repo');
  });
  test('detached at a tag: the tag', () => {
    git('tag', 'v1.0.0');
    git('checkout', '-q', '--detach', 'v1.0.0');
    const c = fromGit(repo);
    assert.equal(c.ref, 'refs/tags/v1.0.0');
    assert.deepEqual(computeMeta(c, { tags: ['type=semver,pattern={{version}}'] }).tags, ['1.0.0', 'latest']);
  });
  test('outside a repository: an error saying what to do', () => {
    assert.throws(() => fromGit(dir), /not a git checkout/);
  });
  test('remote addresses', () => {
    assert.equal(webUrl('https://user:tok@gitlab.com/g/p.git'), 'https://gitlab.com/g/p');
    assert.equal(webUrl('git@github.com:o/r.git'), 'https://github.com/o/r');
  });
});
