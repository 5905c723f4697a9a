/**
 * Replication rules of `kura serve` (`replication.rules`): local repositories copied to another registry by the
 * sync engine (src/sync: digest comparison, signatures and referrers along), on push and/or on a schedule, with
 * each rule's last run kept for the admin API. Opened by src/server/ when rules are configured.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import picomatch from 'picomatch';
import { isDigest } from '../oci/digest.js';
import { ATTACHED_TAG } from '../sync/plan.js';
import { runSync, type SyncEvent } from '../sync/run.js';
import type { SyncSource } from '../sync/sources.js';

/** One rule as the configuration gives it (durations in ms). */
export interface ReplicationRule {
  name: string;
  repositories: string[];
  tags?: string[];
  to: { url: string; prefix?: string; credentialsFile?: string; credentialsEnv?: string; tlsVerify: boolean };
  onPush: boolean;
  schedule: number;
}

/** What the admin API shows of a rule (never its credentials). */
export interface RuleStatus {
  name: string;
  to: string;
  repositories: string[];
  tags: string[] | null;
  onPush: boolean;
  scheduleMs: number;
  running: boolean;
  runs: number;
  last: {
    trigger: string;
    startedAt: string;
    finishedAt: string;
    copied: number;
    unchanged: number;
    failed: number;
    errors: { source: string; error: string }[];
  } | null;
}

export interface ReplicationLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** USER:PASSWORD from a file's first line or an environment variable, read at start. */
function credentials(rule: ReplicationRule): { username: string; password: string } | undefined {
  const { credentialsFile: file, credentialsEnv: env } = rule.to;
  if (!file && !env) return undefined;
  let text: string | undefined;
  if (file) {
    try {
      text = readFileSync(file, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new Error(
        `replication rule "${rule.name}": cannot read to.credentialsFile ${file} (${(e as Error).message})`,
      );
    }
  } else text = process.env[env!];
  const where = file ? `to.credentialsFile ${file}` : `environment variable ${env}`;
  const i = text?.indexOf(':') ?? -1;
  if (!text || i <= 0 || i === text.length - 1)
    throw new Error(`replication rule "${rule.name}": ${where} must hold USER:PASSWORD`);
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** A glob list as one matcher; `**` crosses path segments. */
function matcher(globs: string[]): (s: string) => boolean {
  return picomatch(globs, { dot: true });
}

class Rule {
  readonly repo: (s: string) => boolean;
  readonly tag: RegExp | undefined;
  readonly dest: URL;
  readonly creds: { username: string; password: string } | undefined;
  running: Promise<void> | null = null;
  /** Work pushed while a run was going (undefined: none; null: a whole run is due). */
  pending: Set<string> | null | undefined;
  runs = 0;
  last: RuleStatus['last'] = null;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly r: ReplicationRule) {
    this.repo = matcher(r.repositories);
    this.tag = r.tags ? picomatch.makeRe(r.tags.length === 1 ? r.tags[0]! : `{${r.tags.join(',')}}`) : undefined;
    try {
      this.dest = new URL(r.to.url);
    } catch {
      throw new Error(
        `replication rule "${r.name}": to.url "${r.to.url}" is not a URL; write it like https://host:5000`,
      );
    }
    if ((this.dest.protocol !== 'http:' && this.dest.protocol !== 'https:') || this.dest.pathname !== '/')
      throw new Error(`replication rule "${r.name}": to.url is an http(s) origin only; put a path in to.prefix`);
    if (this.dest.username || this.dest.password)
      throw new Error(`replication rule "${r.name}": put credentials in to.credentialsFile or to.credentialsEnv`);
    this.creds = credentials(r);
  }
}

export class Replicator {
  private readonly rules: Rule[];
  private source = '';
  private closed = false;

  constructor(
    rules: ReplicationRule[],
    private readonly repositories: () => Promise<string[]>,
    private readonly log: ReplicationLog,
  ) {
    this.rules = rules.map((r) => new Rule(r));
  }

  /** Starts the schedules; `source` is the server's own `host:port`, which the rules read from. */
  start(source: string): void {
    this.source = source;
    for (const rule of this.rules) {
      if (rule.r.schedule > 0) {
        rule.timer = setInterval(() => this.trigger(rule, null, 'schedule'), Math.max(rule.r.schedule, 50));
        rule.timer.unref();
      }
    }
  }

  /**
   * A manifest was pushed: the rules that take the repository (and the tag) copy it. A push by digest or of a
   * signature tag (`sha256-….sig`), which is how signatures and referrers arrive, copies that manifest itself, so
   * what is attached to an image already replicated follows it.
   */
  pushed(repo: string, reference: string): void {
    const attached = isDigest(reference) || ATTACHED_TAG.test(reference);
    for (const rule of this.rules) {
      if (!rule.r.onPush || !rule.repo(repo)) continue;
      if (!attached && rule.tag && !rule.tag.test(reference)) continue;
      this.trigger(rule, new Set([attached ? `${repo}\0${reference}` : repo]), 'push');
    }
  }

  /** Runs every rule (or the one named) now; resolves when they have finished. */
  async runNow(name?: string): Promise<void> {
    const chosen = this.rules.filter((r) => name === undefined || r.r.name === name);
    if (name !== undefined && chosen.length === 0) throw new Error(`no replication rule "${name}"`);
    for (const rule of chosen) this.trigger(rule, null, 'manual');
    await this.idle();
  }

  /** One run at a time per rule; what arrives meanwhile runs once after it. */
  private trigger(rule: Rule, repos: Set<string> | null, trigger: string): void {
    if (this.closed || !this.source) return;
    if (rule.running) {
      if (repos === null || rule.pending === null) rule.pending = null;
      else for (const r of repos) (rule.pending ??= new Set()).add(r);
      return;
    }
    rule.running = this.run(rule, repos, trigger).finally(() => {
      rule.running = null;
      const next = rule.pending;
      rule.pending = undefined;
      if (next !== undefined) this.trigger(rule, next, trigger);
    });
  }

  private async run(rule: Rule, only: Set<string> | null, trigger: string): Promise<void> {
    const startedAt = new Date().toISOString();
    const sum = { copied: 0, unchanged: 0, failed: 0, errors: [] as { source: string; error: string }[] };
    try {
      // Each item is a repository (its tags, by the rule) or `repo\0ref` (that one manifest).
      const items = only ? [...only] : (await this.repositories()).filter(rule.repo);
      for (const item of items) {
        if (this.closed) break;
        const [repo, ref] = item.split('\0') as [string, string | undefined];
        const source: SyncSource = {
          registry: this.source,
          repository: repo,
          ...(ref ? { refs: [ref] } : { tagRegex: rule.tag }),
          access: {},
        };
        // The destination keeps the repository's whole path under the prefix (sync names it by its last part).
        const base = posix.join(rule.dest.host, rule.r.to.prefix ?? '', posix.dirname(repo));
        const s = await runSync(
          [source],
          { transport: 'docker', base },
          {
            all: true,
            keepGoing: true,
            parallel: 2,
            dest: { credentials: rule.creds, tlsVerify: rule.r.to.tlsVerify },
            location: { plainHttp: rule.dest.protocol === 'http:' },
          },
        );
        sum.copied += s.copied;
        sum.unchanged += s.unchanged;
        sum.failed += s.failed;
        for (const e of s.events.filter((x: SyncEvent) => x.status === 'failed'))
          if (sum.errors.length < 10) sum.errors.push({ source: e.source, error: e.error ?? 'failed' });
      }
    } catch (e) {
      sum.failed++;
      sum.errors.push({ source: '(listing)', error: (e as Error).message });
    }
    rule.runs++;
    rule.last = { trigger, startedAt, finishedAt: new Date().toISOString(), ...sum };
    const fields = { rule: rule.r.name, trigger, copied: sum.copied, unchanged: sum.unchanged, failed: sum.failed };
    if (sum.failed > 0) this.log.error({ ...fields, errors: sum.errors }, 'replication failed');
    else this.log.info(fields, 'replication');
  }

  /** Resolves once no rule is running (nor due to run again). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.rules.map((r) => r.running).filter((p) => p !== null);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  status(): { rules: RuleStatus[] } {
    return {
      rules: this.rules.map((rule) => ({
        name: rule.r.name,
        to: `${rule.dest.origin}${rule.r.to.prefix ? `/${rule.r.to.prefix}` : ''}`,
        repositories: rule.r.repositories,
        tags: rule.r.tags ?? null,
        onPush: rule.r.onPush,
        scheduleMs: rule.r.schedule,
        running: rule.running !== null,
        runs: rule.runs,
        last: rule.last,
      })),
    };
  }

  /** Stops the schedules and waits for the runs in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const rule of this.rules) clearInterval(rule.timer);
    await this.idle();
  }
}
