import { createRequire } from 'node:module';
import picomatch from 'picomatch';
import type { Digest } from '../oci/digest.js';
import type { RepositorySnapshot } from '../metadata/types.js';

/** Kura's own retention rule for the repositories matching `repositories` (globs). */
export interface RetentionRule {
  repositories: string[];
  /** Keep the N most recently pushed tags that no keep-rule protects; remove older ones. */
  keepLast?: number;
  /** Tags matching these globs are never removed. */
  keepTags?: string[];
  /** Tags that are semantic versions inside this range are never removed (e.g. ">=1.0.0 <2"). */
  keepSemver?: string;
  /** Remove tags whose image was neither pulled nor pushed within this many ms. */
  removeNotPulledWithin?: number;
  /** Remove untagged images pushed more than this many ms ago. */
  removeUntaggedOlderThan?: number;
}

/** An Amazon ECR lifecycle policy document, as written for ECR. */
export interface EcrLifecyclePolicy {
  rules: {
    rulePriority: number;
    description?: string;
    selection: {
      tagStatus: 'tagged' | 'untagged' | 'any';
      tagPrefixList?: string[];
      tagPatternList?: string[];
      countType: 'imageCountMoreThan' | 'sinceImagePushed';
      countUnit?: 'days';
      countNumber: number;
    };
    action: { type: 'expire' };
  }[];
}

export type RetentionAction =
  | { repo: string; kind: 'tag'; tag: string; digest: Digest; reason: string }
  | { repo: string; kind: 'manifest'; digest: Digest; tags: string[]; reason: string };

type Manifest = RepositorySnapshot['manifests'][number];
const DAY = 86_400_000;

export function matchesAny(globs: string[], name: string): boolean {
  return globs.some((g) => picomatch.isMatch(name, g, { dot: true }));
}

/** Child digest → the indexes that list it, so "is it a child?" is a lookup, not a scan. */
function parentsOf(snap: RepositorySnapshot): Map<Digest, Digest[]> {
  const out = new Map<Digest, Digest[]>();
  for (const m of snap.manifests) for (const c of m.children) out.set(c, [...(out.get(c) ?? []), m.digest]);
  return out;
}

/** A rule's period in its own unit: 7d, 36h, 90s (a 0s setting reads 0s, not 0d). */
function ago(ms: number): string {
  if (ms === 0) return '0s';
  return ms % DAY === 0 ? `${ms / DAY}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 1000)}s`;
}

/**
 * Removing images, the way users expect: with their tags and with every referrer (signature, SBOM,
 * attestation) that follows them, and with index children nothing else needs.
 */
function removeImages(
  snap: RepositorySnapshot,
  roots: Map<Digest, string>,
  keepDigests: Set<Digest>,
): RetentionAction[] {
  const byDigest = new Map(snap.manifests.map((m) => [m.digest, m]));
  const tagsOf = new Map<Digest, string[]>();
  for (const t of snap.tags) tagsOf.set(t.digest, [...(tagsOf.get(t.digest) ?? []), t.name]);
  const removed = new Map<Digest, string>(roots);
  const parents = parentsOf(snap);
  // Referrers follow their subject; children follow a removed index unless tagged or needed elsewhere.
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of snap.manifests) {
      if (removed.has(m.digest) || keepDigests.has(m.digest)) continue;
      if (m.subject && removed.has(m.subject)) {
        removed.set(m.digest, `referrer (${m.artifactType ?? 'artifact'}) of removed ${m.subject}`);
        grew = true;
      }
    }
    for (const [d] of [...removed]) {
      for (const c of byDigest.get(d)?.children ?? []) {
        if (removed.has(c) || keepDigests.has(c) || (tagsOf.get(c)?.length ?? 0) > 0) continue;
        const neededElsewhere = (parents.get(c) ?? []).some((p) => !removed.has(p));
        if (!neededElsewhere) {
          removed.set(c, `child of removed index ${d}`);
          grew = true;
        }
      }
    }
  }
  return [...removed].map(([digest, reason]) => ({
    repo: snap.repo,
    kind: 'manifest' as const,
    digest,
    tags: tagsOf.get(digest) ?? [],
    reason,
  }));
}

/** What a Kura rule removes from one repository. Pure: same snapshot, rule and time, same plan. */
export function planRule(
  snap: RepositorySnapshot,
  rule: RetentionRule,
  now: number,
  immutable: (tag: string) => boolean,
): RetentionAction[] {
  const byDigest = new Map(snap.manifests.map((m) => [m.digest, m]));
  const protectedWhy = (tag: string): string | null => {
    if (immutable(tag)) return 'immutable';
    if (rule.keepTags && matchesAny(rule.keepTags, tag)) return 'keepTags';
    if (rule.keepSemver) {
      // Loaded only when a rule uses it (~9 MB of RSS otherwise).
      const semver = createRequire(import.meta.url)('semver') as typeof import('semver');
      const v = semver.valid(tag, { loose: true });
      if (v && semver.satisfies(v, rule.keepSemver, { loose: true })) return 'keepSemver';
    }
    return null;
  };
  const candidates = snap.tags
    .filter((t) => protectedWhy(t.name) === null)
    .sort((a, b) => b.pushedAt - a.pushedAt || (a.name < b.name ? -1 : 1));
  const removeTag = new Map<string, string>();
  if (rule.keepLast !== undefined) {
    candidates
      .slice(rule.keepLast)
      .forEach((t, i) =>
        removeTag.set(t.name, `not among the ${rule.keepLast} most recently pushed tags (#${rule.keepLast! + i + 1})`),
      );
  }
  if (rule.removeNotPulledWithin !== undefined) {
    for (const t of candidates) {
      const m = byDigest.get(t.digest);
      const last = Math.max(t.pushedAt, m?.pulledAt ?? 0);
      if (now - last > rule.removeNotPulledWithin && !removeTag.has(t.name)) {
        removeTag.set(t.name, `neither pulled nor pushed within ${ago(rule.removeNotPulledWithin)}`);
      }
    }
  }
  const remaining = new Map<Digest, number>();
  for (const t of snap.tags) if (!removeTag.has(t.name)) remaining.set(t.digest, (remaining.get(t.digest) ?? 0) + 1);
  const parents = parentsOf(snap);
  const isChild = (d: Digest) => parents.has(d);
  const digestOfTag = new Map(snap.tags.map((t) => [t.name, t.digest]));
  const roots = new Map<Digest, string>();
  // An image whose last tags this rule removes goes with them (unless an index still needs it).
  for (const [tag, reason] of removeTag) {
    const d = digestOfTag.get(tag)!;
    if (!remaining.has(d) && !isChild(d)) roots.set(d, reason);
  }
  if (rule.removeUntaggedOlderThan !== undefined) {
    const tagged = new Set(snap.tags.map((t) => t.digest));
    for (const m of snap.manifests) {
      if (tagged.has(m.digest) || m.subject || isChild(m.digest) || roots.has(m.digest)) continue;
      if (now - m.pushedAt > rule.removeUntaggedOlderThan)
        roots.set(m.digest, `untagged and pushed more than ${ago(rule.removeUntaggedOlderThan)} ago`);
    }
  }
  const keep = new Set<Digest>(remaining.keys());
  const manifests = removeImages(snap, roots, keep);
  const goneWithManifest = new Set(manifests.flatMap((a) => (a.kind === 'manifest' ? a.tags : [])));
  const tags: RetentionAction[] = [...removeTag]
    .filter(([tag]) => !goneWithManifest.has(tag))
    .map(([tag, reason]) => ({ repo: snap.repo, kind: 'tag', tag, digest: digestOfTag.get(tag)!, reason }));
  return [...tags, ...manifests];
}

/** What an ECR lifecycle policy expires in one repository (ECR's rules: first matching rule decides). */
export function planEcr(
  snap: RepositorySnapshot,
  policy: EcrLifecyclePolicy,
  now: number,
  immutable: (tag: string) => boolean,
): RetentionAction[] {
  const parents = parentsOf(snap);
  const isChild = (d: Digest) => parents.has(d);
  // Images: top-level manifests (not referrers, not index children), newest first.
  const images = snap.manifests
    .filter((m: Manifest) => !m.subject && !isChild(m.digest))
    .map((m) => ({ m, tags: snap.tags.filter((t) => t.digest === m.digest).map((t) => t.name) }))
    .sort((a, b) => b.m.pushedAt - a.m.pushedAt || (a.m.digest < b.m.digest ? -1 : 1));
  const decided = new Set<Digest>();
  const roots = new Map<Digest, string>();
  for (const rule of [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
    const sel = rule.selection;
    const selected = images.filter(({ m, tags }) => {
      if (decided.has(m.digest)) return false;
      if (sel.tagStatus === 'untagged') return tags.length === 0;
      if (sel.tagStatus === 'any') return true;
      if (tags.length === 0) return false;
      const prefixes = sel.tagPrefixList ?? [];
      const patterns = sel.tagPatternList ?? [];
      if (prefixes.length === 0 && patterns.length === 0) return true;
      return tags.some((t) => prefixes.some((p) => t.startsWith(p)) || matchesAny(patterns, t));
    });
    const label = `ECR rule ${rule.rulePriority}${rule.description ? ` (${rule.description})` : ''}`;
    selected.forEach(({ m, tags }, i) => {
      decided.add(m.digest);
      if (tags.some(immutable)) return;
      const expire =
        sel.countType === 'imageCountMoreThan' ? i >= sel.countNumber : now - m.pushedAt > sel.countNumber * DAY;
      if (expire) {
        roots.set(
          m.digest,
          sel.countType === 'imageCountMoreThan'
            ? `${label}: beyond the ${sel.countNumber} newest images`
            : `${label}: pushed more than ${sel.countNumber} days ago`,
        );
      }
    });
  }
  return removeImages(snap, roots, new Set());
}
