/**
 * Replication rules of `kura serve` (`replication.rules`), run by the sync engine (src/sync: digest comparison,
 * signatures and referrers along). Push rules (`to`) copy local repositories to another registry, on push and/or
 * on a schedule; pull rules (`from`) fetch a remote registry's repositories into local ones on a schedule. This
 * registry's side is read and written in-process (a `LocalMedium` the server gives), never over its own port.
 * Each rule's last run is kept for the admin API. Opened by src/server/ when rules are configured.
 */
import { posix } from 'node:path';
import { isDigest } from '../oci/digest.js';
import { ATTACHED_TAG } from '../sync/plan.js';
import { planSync, runSync, type SyncEvent, type SyncMedium, type SyncOptions } from '../sync/run.js';
import type { SyncSource } from '../sync/sources.js';
import { Rule, type ReplicationRule, type RuleStatus, type RunSummary } from './rules.js';

export type { ReplicationRule, RuleStatus } from './rules.js';

/** A repository of this registry, opened in-process. */
export interface LocalMedium extends SyncMedium {
  delete(ref: string): Promise<void>;
}

export interface ReplicationLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The registry name the sync engine sees for this server (`.invalid` never resolves, so no remote is taken for it). */
const LOCAL = 'local.kura.invalid';

type Sum = Omit<RunSummary, 'trigger' | 'startedAt' | 'finishedAt'>;

export class Replicator {
  private readonly rules: Rule[];
  private started = false;
  private closed = false;

  constructor(
    rules: ReplicationRule[],
    private readonly repositories: () => Promise<string[]>,
    private readonly local: (repository: string) => LocalMedium,
    private readonly log: ReplicationLog,
  ) {
    this.rules = rules.map((r) => new Rule(r));
  }

  /** Starts the schedules (once the server is listening). */
  start(): void {
    this.started = true;
    for (const rule of this.rules) {
      if (rule.r.schedule > 0) {
        rule.timer = setInterval(() => this.trigger(rule, null, 'schedule'), Math.max(rule.r.schedule, 50));
        rule.timer.unref();
      }
    }
  }

  /**
   * A manifest was pushed: the push rules that take the repository (and the tag) copy it. A push by digest or of
   * a signature tag (`sha256-….sig`), which is how signatures and referrers arrive, copies that manifest itself, so
   * what is attached to an image already replicated follows it.
   */
  pushed(repo: string, reference: string): void {
    const attached = isDigest(reference) || ATTACHED_TAG.test(reference);
    for (const rule of this.rules) {
      if (!rule.r.onPush || rule.side !== 'to' || !rule.repo(repo)) continue;
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
    if (this.closed || !this.started) return;
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

  private options(rule: Rule): SyncOptions {
    return {
      all: true,
      keepGoing: true,
      parallel: 2,
      dest: rule.side === 'to' ? rule.access() : undefined,
      location: rule.location(),
      open: (registry, repository) => (registry === LOCAL ? this.local(repository) : undefined),
    };
  }

  private async run(rule: Rule, only: Set<string> | null, trigger: string): Promise<void> {
    const startedAt = new Date().toISOString();
    const sum: Sum = { copied: 0, unchanged: 0, pruned: 0, failed: 0, errors: [] };
    try {
      if (rule.side === 'to') await this.push(rule, only, sum);
      else await this.pull(rule, sum);
    } catch (e) {
      sum.failed++;
      sum.errors.push({ source: '(listing)', error: (e as Error).message });
    }
    rule.runs++;
    rule.last = { trigger, startedAt, finishedAt: new Date().toISOString(), ...sum };
    const { copied, unchanged, pruned, failed } = sum;
    const fields = { rule: rule.r.name, trigger, copied, unchanged, pruned, failed };
    if (sum.failed > 0) this.log.error({ ...fields, errors: sum.errors }, 'replication failed');
    else this.log.info(fields, 'replication');
  }

  /** Push: each item is a local repository (its tags, by the rule) or `repo\0ref` (that one manifest). */
  private async push(rule: Rule, only: Set<string> | null, sum: Sum): Promise<void> {
    const items = only ? [...only] : (await this.repositories()).filter(rule.repo);
    for (const item of items) {
      if (this.closed) break;
      const [repo, ref] = item.split('\0') as [string, string | undefined];
      const source: SyncSource = {
        registry: LOCAL,
        repository: repo,
        ...(ref ? { refs: [ref] } : { tagRegex: rule.tag }),
        access: {},
      };
      // The destination keeps the repository's whole path under the prefix (sync names it by its last part).
      const base = posix.join(rule.remote.host, rule.r.to!.prefix ?? '', posix.dirname(repo));
      add(sum, await runSync([source], { transport: 'docker', base }, this.options(rule)));
    }
  }

  /** Pull: each remote repository's tags (by the rule) into the local one; `prune` deletes tags gone upstream. */
  private async pull(rule: Rule, sum: Sum): Promise<void> {
    for (const repo of rule.r.repositories) {
      if (this.closed) break;
      const source: SyncSource = {
        registry: rule.remote.host,
        repository: repo,
        tagRegex: rule.tag,
        access: rule.access(),
      };
      const local = posix.join(rule.r.into ?? '', repo);
      const dest = { transport: 'docker' as const, base: posix.join(LOCAL, posix.dirname(local)) };
      const o = this.options(rule);
      const upstream = rule.r.prune ? new Set((await planSync([source], dest, o)).map((i) => i.ref)) : undefined;
      const s = await runSync([source], dest, o);
      add(sum, s);
      if (!upstream || s.failed > 0) continue;
      // Signature tags follow their image; the rule's tag filter bounds what is pruned.
      const medium = this.local(local);
      for (const tag of await medium.tags()) {
        if (upstream.has(tag) || ATTACHED_TAG.test(tag) || (rule.tag && !rule.tag.test(tag))) continue;
        await medium.delete(tag);
        sum.pruned++;
      }
    }
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
    return { rules: this.rules.map((rule) => rule.status()) };
  }

  /** Stops the schedules and waits for the runs in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const rule of this.rules) clearInterval(rule.timer);
    await this.idle();
  }
}

function add(sum: Sum, s: Awaited<ReturnType<typeof runSync>>): void {
  sum.copied += s.copied;
  sum.unchanged += s.unchanged;
  sum.failed += s.failed;
  for (const e of s.events.filter((x: SyncEvent) => x.status === 'failed'))
    if (sum.errors.length < 10) sum.errors.push({ source: e.source, error: e.error ?? 'failed' });
}
