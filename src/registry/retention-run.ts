/** Retention against the store: plan what the configured policies remove (planners in retention.ts), then apply it. */
import type { Digest } from '../oci/digest.js';
import type { Activity } from './activity.js';
import type { RegistryCore } from './core.js';
import type { ManifestService } from './manifests.js';
import { matchesAny, planEcr, planRule, type RetentionAction } from './retention.js';

export interface RetentionPlan {
  at: number;
  repositories: number;
  actions: RetentionAction[];
}

export class RetentionService {
  constructor(
    private readonly core: RegistryCore,
    private readonly manifests: ManifestService,
    private readonly activity: Activity,
  ) {}

  /** What the configured policies would remove now, and why. Changes nothing. */
  async plan(now = this.core.now()): Promise<RetentionPlan> {
    const { meta } = this.core;
    // Pull times decide some rules: the ones still in memory count too.
    await this.activity.flushPulls();
    const cfg = this.core.options.retention ?? { rules: [], ecr: [] };
    const plan: RetentionPlan = { at: now, repositories: 0, actions: [] };
    let last: string | undefined;
    for (;;) {
      const page = await meta.manifests.listRepositories({ last, n: 500 });
      for (const repo of page) {
        const rule = cfg.rules.find((r) => matchesAny(r.repositories, repo));
        const ecr = rule ? undefined : cfg.ecr.find((e) => matchesAny(e.repositories, repo));
        if (!rule && !ecr) continue;
        const snap = await meta.manifests.snapshot(repo);
        if (!snap) continue;
        plan.repositories++;
        const immutable = (tag: string) => this.manifests.isImmutable(repo, tag);
        plan.actions.push(
          ...(rule ? planRule(snap, rule, now, immutable) : planEcr(snap, ecr!.policy, now, immutable)),
        );
      }
      if (page.length < 500) break;
      last = page[page.length - 1];
    }
    return plan;
  }

  /** Carries out exactly the given plan (deletion switch or not: policies are the operator's own). */
  async apply(plan: RetentionPlan): Promise<{ applied: number; skipped: number }> {
    const { meta, lookups } = this.core;
    let applied = 0;
    let skipped = 0;
    // One snapshot per repository, taken before its first action: our own deletions remove only what
    // the plan names, so comparing against it still shows what changed since the plan.
    const snaps = new Map<string, Map<Digest, string[]>>();
    for (const a of plan.actions) {
      let tagsByDigest = snaps.get(a.repo);
      if (!tagsByDigest) {
        tagsByDigest = new Map();
        for (const t of (await meta.manifests.snapshot(a.repo))?.tags ?? []) {
          tagsByDigest.set(t.digest, [...(tagsByDigest.get(t.digest) ?? []), t.name]);
        }
        snaps.set(a.repo, tagsByDigest);
      }
      // Skip what changed since the plan: a tag moved elsewhere, or a manifest that gained a tag.
      const tagsNow = tagsByDigest.get(a.digest) ?? [];
      const unchanged = a.kind === 'tag' ? tagsNow.includes(a.tag) : tagsNow.every((t) => a.tags.includes(t));
      lookups.invalidate();
      const ok =
        unchanged &&
        (a.kind === 'tag'
          ? await meta.manifests.deleteTag(a.repo, a.tag)
          : await meta.manifests.delete(a.repo, a.digest));
      if (ok) applied++;
      else skipped++;
    }
    lookups.invalidate();
    return { applied, skipped };
  }
}
