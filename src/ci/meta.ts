/**
 * Tags, version, OCI labels and annotations for a build, computed as docker/metadata-action does from its
 * `images`, `tags` and `flavor` inputs, with one fix: a prerelease git tag never becomes `latest` automatically.
 */
import { clean as pepClean, explain as pepExplain, major, minor, patch, valid as pepValid } from '@renovatebot/pep440';
import semver from 'semver';
import type { CiContext } from './context.js';
import { dateHelper, isRawPattern, render, type Helpers } from './expr.js';
import { parseFlavor, parseImages, parseRules, RuleError, type Flavor, type Rule } from './rules.js';

export interface MetaInputs {
  /** Image lines (`name/app`, `name=…,enable=…`); none gives bare tags. */
  images?: string[];
  /** Rule lines; none gives the defaults (schedule, branch, tag, pull request). */
  tags?: string[];
  flavor?: string[];
  /** Extra KEY=VALUE labels and annotations; they override the OCI ones of the same key. */
  labels?: string[];
  annotations?: string[];
  /** Where annotations go: manifest (default), index, manifest-descriptor, index-descriptor. */
  annotationLevels?: string[];
  /** The time of `created` and `{{date}}` (default now). */
  now?: Date;
  /** Length of a short commit (default 7, as DOCKER_METADATA_SHORT_SHA_LENGTH). */
  shortShaLength?: number;
}

export interface Meta {
  /** The value of the highest-priority rule that produced one (the `version` output), or '' when none did. */
  version: string;
  tags: string[];
  labels: Record<string, string>;
  /** `LEVEL:KEY=VALUE` lines, as the action's `annotations` output. */
  annotations: string[];
  /** Non-fatal notes (a tag that is not semver for a semver rule, a pattern that does not match). */
  warnings: string[];
}

const LEVELS = ['manifest', 'index', 'manifest-descriptor', 'index-descriptor'];

/** Whether a version string is a prerelease (semver `-rc.1`, or PEP 440 pre/dev releases such as `1.0rc1`). */
export function isPrerelease(v: string): boolean {
  const s = semver.parse(v, { loose: true });
  if (s) return s.prerelease.length > 0;
  const p = pepValid(v) ? pepExplain(v) : null;
  return !!p && (p.is_prerelease || p.is_devrelease);
}

/** Replaces what a tag may not hold by `-` (letters, digits, `_`, `.`, `-` only) and keeps 128 characters. */
export function sanitizeTag(t: string): string {
  return t.replace(/[^a-zA-Z0-9._-]+/g, '-').slice(0, 128);
}

const stripHeads = (ref: string) => (ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : '');
const stripTags = (ref: string) => (ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : '');

class Computation {
  readonly flavor: Flavor;
  readonly warnings: string[] = [];
  main: string | undefined;
  partial: string[] = [];
  latest: boolean | undefined;
  readonly globals: Helpers;

  constructor(
    readonly ctx: CiContext,
    inputs: MetaInputs,
    readonly now: Date,
  ) {
    this.flavor = parseFlavor(inputs.flavor ?? []);
    const n = inputs.shortShaLength ?? 7;
    const branch = stripHeads(ctx.ref);
    const defaultBranch =
      (branch !== '' && branch === ctx.defaultBranch) || /create|discussion|issues|schedule/.test(ctx.eventName);
    this.globals = {
      branch,
      tag: stripTags(ctx.ref),
      sha: ctx.sha.slice(0, n),
      base_ref: ctx.baseRef ?? '',
      is_default_branch: String(defaultBranch),
      date: dateHelper(now),
      commit_date: dateHelper(ctx.commitDate ?? now),
    };
  }

  exp(s: string): string {
    return render(s, this.globals);
  }

  /** Prefix and suffix: the rule's own when it has them, else the flavor's. */
  value(v: string, rule: Rule): string {
    const pre = 'prefix' in rule.attrs ? rule.attrs.prefix! : this.flavor.prefix;
    const suf = 'suffix' in rule.attrs ? rule.attrs.suffix! : this.flavor.suffix;
    return `${this.exp(pre)}${v}${this.exp(suf)}`;
  }

  /** Records one produced value; the first rule that produces one decides `latest` (auto means `autoLatest`). */
  add(v: string, autoLatest: boolean): void {
    if (v === '') return;
    const t = sanitizeTag(v);
    if (this.main === undefined) this.main = t;
    else if (t !== this.main && !this.partial.includes(t)) this.partial.push(t);
    this.latest ??= this.flavor.latest === 'auto' ? autoLatest : this.flavor.latest === 'true';
  }

  /** The version a semver/pep440/match rule reads: its value= (expressions rendered) or the pushed git tag. */
  versionSource(rule: Rule, slashes: boolean): string | undefined {
    if (rule.attrs.value) return this.exp(rule.attrs.value);
    const tag = stripTags(this.ctx.ref);
    if (!tag) return undefined;
    return slashes ? tag : tag.replace(/\//g, '-');
  }

  run(rule: Rule): void {
    const ref = this.ctx.ref;
    const a = rule.attrs;
    switch (rule.type) {
      case 'schedule':
        if (/schedule/.test(this.ctx.eventName)) this.add(this.value(this.exp(a.pattern!), rule), false);
        return;
      case 'semver':
        return this.semver(rule);
      case 'pep440':
        return this.pep440(rule);
      case 'match':
        return this.match(rule);
      case 'ref':
        if (a.event === 'branch' && stripHeads(ref)) this.add(this.value(stripHeads(ref), rule), false);
        if (a.event === 'tag' && stripTags(ref)) {
          // The fix: a prerelease tag (v2.0.8-beta.67) is tagged as itself, never `latest` by auto.
          this.add(this.value(stripTags(ref), rule), !isPrerelease(stripTags(ref)));
        }
        if (a.event === 'pr' && ref.startsWith('refs/pull/'))
          this.add(this.value(ref.replace(/^refs\/pull\//, '').replace(/\/merge$/, ''), rule), false);
        return;
      case 'edge': {
        const branch = stripHeads(ref);
        if (branch && branch === (a.branch || this.ctx.defaultBranch)) this.add(this.value('edge', rule), false);
        return;
      }
      case 'raw':
        return this.add(this.value(this.exp(a.value!), rule), false);
      case 'sha':
        if (this.ctx.sha)
          this.add(this.value(a.format === 'long' ? this.ctx.sha : String(this.globals.sha), rule), false);
        return;
    }
  }

  semver(rule: Rule): void {
    const raw = this.versionSource(rule, false);
    if (raw === undefined) return;
    const v = semver.parse(raw, { loose: true });
    if (!v) return void this.warnings.push(`${raw} is not a semantic version: rule "${rule.source}" skipped`);
    const fields: Helpers = {
      raw,
      version: v.version,
      major: String(v.major),
      minor: String(v.minor),
      patch: String(v.patch),
      prerelease: v.prerelease.join('.'),
      ...this.globals,
    };
    const pre = v.prerelease.length > 0;
    const pattern = pre && !isRawPattern(rule.attrs.pattern!) ? '{{version}}' : rule.attrs.pattern!;
    this.add(this.value(render(pattern, fields), rule), !pre);
  }

  pep440(rule: Rule): void {
    const raw = this.versionSource(rule, false);
    if (raw === undefined) return;
    const p = pepValid(raw) ? pepExplain(raw) : null;
    if (!p) return void this.warnings.push(`${raw} is not a PEP 440 version: rule "${rule.source}" skipped`);
    const special = p.is_prerelease || p.is_postrelease || p.is_devrelease;
    const version = pepClean(raw) ?? raw;
    if (special) {
      this.add(this.value(isRawPattern(rule.attrs.pattern!) ? raw : version, rule), false);
      return;
    }
    const fields: Helpers = {
      raw,
      version,
      major: String(major(raw)),
      minor: String(minor(raw)),
      patch: String(patch(raw)),
      ...this.globals,
    };
    this.add(this.value(render(rule.attrs.pattern!, fields), rule), true);
  }

  match(rule: Rule): void {
    const raw = this.versionSource(rule, true);
    if (raw === undefined) return;
    const p = rule.attrs.pattern!;
    const slashed = /^\/(.+)\/([a-z]*)$/.exec(p);
    let re: RegExp;
    try {
      re = slashed ? new RegExp(slashed[1]!, slashed[2]) : new RegExp(p);
    } catch (e) {
      throw new RuleError(`"${rule.source}": pattern is not a regular expression: ${(e as Error).message}`);
    }
    const m = re.exec(raw);
    const got = m?.[Number(rule.attrs.group)];
    if (got === undefined) return void this.warnings.push(`${p} (group ${rule.attrs.group}) does not match ${raw}`);
    this.add(this.value(got, rule), !isPrerelease(raw));
  }
}

function keyValues(lines: string[], exp: (s: string) => string): [string, string][] {
  return lines.map((l) => {
    const i = l.indexOf('=');
    if (i <= 0) throw new RuleError(`"${l}" must be KEY=VALUE`);
    return [l.slice(0, i), exp(l.slice(i + 1))];
  });
}

/** Computes the tags, version, labels and annotations of a build in `ctx`. */
export function computeMeta(ctx: CiContext, inputs: MetaInputs = {}): Meta {
  const now = inputs.now ?? new Date();
  const c = new Computation(ctx, inputs, now);
  for (const rule of parseRules(inputs.tags ?? [])) {
    const enable = c.exp(rule.attrs.enable!);
    if (enable !== 'true' && enable !== 'false')
      throw new RuleError(`"${rule.source}": enable must be true or false, not "${enable}"`);
    if (enable === 'true') c.run(rule);
  }
  const images = parseImages(inputs.images ?? []);
  const tags: string[] = [];
  if (c.main !== undefined) {
    const f = c.flavor;
    const latest = sanitizeTag(`${f.prefixLatest ? f.prefix : ''}latest${f.suffixLatest ? f.suffix : ''}`);
    const names = [c.main, ...c.partial, ...(c.latest ? [latest] : [])];
    for (const image of images.length ? images : ['']) tags.push(...names.map((n) => (image ? `${image}:${n}` : n)));
  }
  const version = c.main ?? '';
  const oci = (extra: string[]): Record<string, string> => {
    const base: [string, string][] = [
      ['org.opencontainers.image.title', ctx.repo.title ?? ''],
      ['org.opencontainers.image.description', ctx.repo.description ?? ''],
      ['org.opencontainers.image.url', ctx.repo.url ?? ''],
      ['org.opencontainers.image.source', ctx.repo.url ?? ''],
      ['org.opencontainers.image.version', version],
      ['org.opencontainers.image.created', now.toISOString()],
      ['org.opencontainers.image.revision', ctx.sha],
      ['org.opencontainers.image.licenses', ctx.repo.license ?? ''],
    ];
    const all = new Map([...base, ...keyValues(extra, (s) => c.exp(s))]);
    return Object.fromEntries([...all].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
  };
  const levels = inputs.annotationLevels?.length ? inputs.annotationLevels : ['manifest'];
  for (const l of levels)
    if (!LEVELS.includes(l)) throw new RuleError(`unknown annotation level "${l}": use ${LEVELS.join(', ')}`);
  const ann = Object.entries(oci(inputs.annotations ?? []));
  return {
    version,
    tags,
    labels: oci(inputs.labels ?? []),
    annotations: levels.flatMap((l) => ann.map(([k, v]) => `${l}:${k}=${v}`)),
    warnings: c.warnings,
  };
}
