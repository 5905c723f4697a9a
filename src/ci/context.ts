/** Where `kura ci tags` learns what is being built: GitHub Actions, GitLab CI or plain git, as one CiContext. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RuleError } from './rules.js';

/** The build being tagged, whatever CI runs it. Refs use GitHub's shapes (a merge request is refs/pull/N/merge). */
export interface CiContext {
  provider: 'github' | 'gitlab' | 'git';
  /** push, pull_request, schedule, workflow_dispatch, … */
  eventName: string;
  /** refs/heads/BRANCH, refs/tags/TAG or refs/pull/N/merge; empty when unknown. */
  ref: string;
  sha: string;
  defaultBranch?: string;
  /** A pull request's target branch (or, for a tag push, the branch GitHub names). */
  baseRef?: string;
  commitDate?: Date;
  repo: { title?: string; description?: string; url?: string; license?: string };
}

export type Provider = CiContext['provider'] | 'auto';

type Env = NodeJS.ProcessEnv;

interface GitHubPayload {
  repository?: {
    name?: string;
    description?: string | null;
    html_url?: string;
    default_branch?: string;
    license?: { spdx_id?: string } | null;
  };
  pull_request?: { number?: number; head?: { sha?: string }; base?: { ref?: string } };
  number?: number;
  base_ref?: string | null;
  head_commit?: { timestamp?: string } | null;
}

function readPayload(path: string | undefined): GitHubPayload {
  if (!path) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as GitHubPayload;
  } catch (e) {
    throw new RuleError(`cannot read the event payload GITHUB_EVENT_PATH=${path}: ${(e as Error).message}`);
  }
}

function date(s: string | undefined): Date | undefined {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The context of a GitHub Actions run: GITHUB_* variables and the event payload (repository, pull request). */
export function fromGitHub(env: Env, cwd = process.cwd()): CiContext {
  const payload = readPayload(env.GITHUB_EVENT_PATH);
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  let ref = env.GITHUB_REF ?? '';
  const pr = payload.pull_request;
  // pull_request_target runs on the base branch: its pull request is still the one to name.
  if (/^pull_request/.test(eventName) && !ref.startsWith('refs/pull/') && (pr?.number ?? payload.number))
    ref = `refs/pull/${pr?.number ?? payload.number}/merge`;
  let sha = env.GITHUB_SHA ?? '';
  if (/^pull_request/.test(eventName) && env.DOCKER_METADATA_PR_HEAD_SHA === 'true' && pr?.head?.sha) sha = pr.head.sha;
  const r = payload.repository ?? {};
  const url =
    r.html_url ??
    (env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}` : undefined);
  const baseRef = ref.startsWith('refs/pull/') ? pr?.base?.ref : payload.base_ref?.replace(/^refs\/heads\//, '');
  return {
    provider: 'github',
    eventName,
    ref,
    sha,
    ...(r.default_branch ? { defaultBranch: r.default_branch } : {}),
    ...(baseRef ? { baseRef } : {}),
    ...optionalDate(date(payload.head_commit?.timestamp) ?? gitCommitDate(sha, cwd)),
    repo: {
      title: r.name ?? env.GITHUB_REPOSITORY?.split('/')[1],
      ...(r.description ? { description: r.description } : {}),
      ...(url ? { url } : {}),
      ...(r.license?.spdx_id ? { license: r.license.spdx_id } : {}),
    },
  };
}

function optionalDate(d: Date | undefined): { commitDate?: Date } {
  return d ? { commitDate: d } : {};
}

/** The context of a GitLab CI job: CI_COMMIT_*, CI_PIPELINE_SOURCE, CI_DEFAULT_BRANCH, CI_MERGE_REQUEST_*. */
export function fromGitLab(env: Env): CiContext {
  const source = env.CI_PIPELINE_SOURCE ?? 'push';
  const mr = env.CI_MERGE_REQUEST_IID;
  let eventName = source;
  let ref = '';
  if (source === 'merge_request_event' && mr) {
    eventName = 'pull_request';
    ref = `refs/pull/${mr}/merge`;
  } else if (env.CI_COMMIT_TAG) ref = `refs/tags/${env.CI_COMMIT_TAG}`;
  else if (env.CI_COMMIT_BRANCH) ref = `refs/heads/${env.CI_COMMIT_BRANCH}`;
  else if (env.CI_COMMIT_REF_NAME) ref = `refs/heads/${env.CI_COMMIT_REF_NAME}`;
  const baseRef = env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME;
  return {
    provider: 'gitlab',
    eventName,
    ref,
    sha: env.CI_COMMIT_SHA ?? '',
    ...(env.CI_DEFAULT_BRANCH ? { defaultBranch: env.CI_DEFAULT_BRANCH } : {}),
    ...(baseRef ? { baseRef } : {}),
    ...optionalDate(date(env.CI_COMMIT_TIMESTAMP)),
    repo: {
      title: env.CI_PROJECT_TITLE ?? env.CI_PROJECT_NAME,
      ...(env.CI_PROJECT_DESCRIPTION ? { description: env.CI_PROJECT_DESCRIPTION } : {}),
      ...(env.CI_PROJECT_URL ? { url: env.CI_PROJECT_URL } : {}),
    },
  };
}

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function gitCommitDate(sha: string, cwd: string): Date | undefined {
  return sha ? date(git(['log', '-1', '--format=%cI', sha], cwd)) : undefined;
}

/** A remote URL as a web address: `git@host:o/r.git` and `https://host/o/r.git` both give `https://host/o/r`. */
export function webUrl(remote: string): string {
  const scp = /^[\w.-]+@([^:]+):(.+)$/.exec(remote);
  const url = scp ? `https://${scp[1]}/${scp[2]}` : remote.replace(/^(https?:\/\/)[^@/]+@/, '$1');
  return url.replace(/\.git$/, '');
}

/**
 * The context of a plain git checkout: HEAD's branch (or, detached, a tag pointing at it), the commit, its
 * date, origin's default branch and address. Outside a repository this is an error saying so.
 */
export function fromGit(cwd: string): CiContext {
  const sha = git(['rev-parse', 'HEAD'], cwd);
  if (!sha)
    throw new RuleError(
      `${cwd} is not a git checkout with a commit, and no CI is detected: run in a repository or set GITHUB_* / CI_*`,
    );
  let ref = git(['symbolic-ref', '-q', 'HEAD'], cwd) ?? '';
  if (!ref) {
    const tag = git(['tag', '--points-at', 'HEAD', '--sort=-v:refname'], cwd)?.split('\n')[0];
    if (tag) ref = `refs/tags/${tag}`;
  }
  const originHead = git(['symbolic-ref', '-q', '--short', 'refs/remotes/origin/HEAD'], cwd);
  const defaultBranch = originHead?.replace(/^origin\//, '') || git(['config', 'init.defaultBranch'], cwd);
  const remote = git(['remote', 'get-url', 'origin'], cwd);
  const top = git(['rev-parse', '--show-toplevel'], cwd);
  return {
    provider: 'git',
    eventName: 'push',
    ref,
    sha,
    ...(defaultBranch ? { defaultBranch } : {}),
    ...optionalDate(gitCommitDate(sha, cwd)),
    repo: { title: top?.split('/').pop(), ...(remote ? { url: webUrl(remote) } : {}) },
  };
}

/** The context for `provider` (auto: GitHub when GITHUB_ACTIONS=true, GitLab when GITLAB_CI=true, else git). */
export function detectContext(provider: Provider, env: Env = process.env, cwd = process.cwd()): CiContext {
  const p =
    provider !== 'auto' ? provider : env.GITHUB_ACTIONS === 'true' ? 'github' : env.GITLAB_CI ? 'gitlab' : 'git';
  if (p === 'github') return fromGitHub(env, cwd);
  if (p === 'gitlab') return fromGitLab(env);
  return fromGit(cwd);
}
