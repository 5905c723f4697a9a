/** The pull policy of `kura serve` (config `verify.rules`): manifests of protected repositories need a signature. */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import { isIndexMediaType } from '../oci/mediatypes.js';
import type { ManifestRecord, Registry } from '../registry/registry.js';
import { matchesAny } from '../registry/retention.js';
import { loadPublicKey } from '../signing/keys.js';
import { verifyImage } from '../signing/verify.js';
import { RepositoryGraph } from './verify-graph.js';

/** One rule as configured: repository globs, public key files, and whether index children inherit. */
export interface VerifyRuleConfig {
  repositories: string[];
  keys: string[];
  inheritFromIndex: boolean;
}

interface Rule extends VerifyRuleConfig {
  loaded: KeyObject[];
}

/** Why a manifest may be served, or why not. */
type Verdict =
  | { ok: true; why: 'signed' | 'attachment' | { inherited: Digest } }
  | { ok: false; reason: string; tried: string[]; transient?: boolean };

/** Tags that name what hangs off a digest (cosign's `.sig`/`.att`/`.sbom`, the referrers tag schema). */
const ATTACHED_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

/** Filesystem layers: what a container would run. A manifest without any is a signature, attestation or SBOM. */
function runnableLayer(mediaType: string): boolean {
  return (
    mediaType.startsWith('application/vnd.oci.image.layer.') ||
    mediaType.startsWith('application/vnd.docker.image.rootfs.')
  );
}

/**
 * Whether a manifest is an attachment rather than an image: an image manifest with no filesystem layer (cosign
 * signatures, attestations, SBOMs, buildkit attestation manifests), or an index whose every entry has an
 * artifactType (the referrers tag schema). These stay fetchable, or no client could verify anything.
 */
export function isAttachment(bytes: Buffer, mediaType: string): boolean {
  let p;
  try {
    p = parseManifest(bytes, mediaType);
  } catch {
    return false;
  }
  if (p.kind === 'image') return !p.manifest.layers.some((l) => runnableLayer(l.mediaType));
  if (p.kind === 'index') return p.manifest.manifests.every((m) => m.artifactType !== undefined);
  return false;
}

/** Reads each rule's key files now, so a missing or bad key stops the server at start with one clear line. */
export function loadVerifyRules(rules: readonly VerifyRuleConfig[]): Rule[] {
  return rules.map((r) => ({
    ...r,
    loaded: r.keys.map((file) => {
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch (e) {
        throw new Error(`verify rule ${r.repositories.join(', ')}: cannot read key ${file}: ${(e as Error).message}`);
      }
      return loadPublicKey(pem, `verify rule ${r.repositories.join(', ')}: key ${file}`);
    }),
  }));
}

const CACHE_MAX = 10_000;

/**
 * Decides manifest GETs and HEADs under `verify.rules`. Verdicts are cached by repository and digest, each with
 * the Registry's change counter when it was reached: any change of a manifest or tag (a signature pushed or
 * deleted, an index retagged, GC, retention) makes every cached verdict stale, so none outlives its evidence.
 */
export class PullPolicy {
  private readonly cache = new Map<string, { changes: number; verdict: Verdict }>();
  private readonly parentMaps = new Map<string, { changes: number; parents: Map<Digest, Digest[]> }>();

  constructor(
    private readonly registry: Registry,
    private readonly rules: readonly Rule[],
  ) {}

  /** Verifications done (cache misses), for tests and the profile. */
  verifications = 0;

  /** Whether a rule protects `repo`. */
  covers(repo: string): boolean {
    return this.rules.some((r) => matchesAny(r.repositories, repo));
  }

  /** Throws 403 DENIED unless the manifest `record` of `repo` may be served. */
  async check(repo: string, record: ManifestRecord): Promise<void> {
    const i = this.rules.findIndex((r) => matchesAny(r.repositories, repo));
    if (i < 0) return;
    const rule = this.rules[i]!;
    const v = await this.verdict(i, rule, repo, record.digest, 0);
    if (v.ok) return;
    const globs = rule.repositories.join(', ');
    const tried = v.tried.length > 0 ? ` (${v.tried.slice(0, 3).join('; ')})` : '';
    throw new OciError(
      'DENIED',
      `${repo}@${record.digest} ${v.reason}${tried} (verify rule ${globs}): sign it with ` +
        `kura sign --key KEY ${repo}@${record.digest}` +
        (rule.inheritFromIndex ? ', or sign an index that lists it' : ''),
      { repository: repo, digest: record.digest, rule: rule.repositories },
    );
  }

  private async verdict(i: number, rule: Rule, repo: string, digest: Digest, depth: number): Promise<Verdict> {
    const key = `${i}\0${repo}\0${digest}`;
    const changes = this.registry.changes();
    const hit = this.cache.get(key);
    if (hit && hit.changes === changes) return hit.verdict;
    const verdict = await this.decide(i, rule, repo, digest, depth);
    if (!verdict.ok && verdict.transient) return verdict;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    // Reached on the evidence as it stood at `changes`: a change meanwhile makes it stale at once.
    this.cache.set(key, { changes, verdict });
    return verdict;
  }

  private async decide(i: number, rule: Rule, repo: string, digest: Digest, depth: number): Promise<Verdict> {
    this.verifications++;
    const bytes = await this.registry.manifestBytes(digest);
    const record = await this.registry.statManifest(repo, digest);
    if (isAttachment(bytes, record.mediaType)) return { ok: true, why: 'attachment' };
    let res;
    try {
      res = await verifyImage(new RepositoryGraph(this.registry, repo), digest, { keys: rule.loaded });
    } catch (e) {
      // A signature whose blobs are gone or unreadable: refused, and not cached (it may be a passing fault).
      const why = (e as Error).message.slice(0, 300);
      return { ok: false, reason: 'has signatures that could not be read', tried: [why], transient: true };
    }
    if (res.verified.length > 0) return { ok: true, why: 'signed' };
    const tried = res.rejected.map((r) => `${r.from}: ${r.reason}`);
    if (rule.inheritFromIndex && depth < 4) {
      for (const parent of await this.parents(repo, digest)) {
        const pv = await this.verdict(i, rule, repo, parent, depth + 1);
        if (pv.ok && pv.why !== 'attachment') return { ok: true, why: { inherited: parent } };
      }
    }
    const reason = tried.length > 0 ? 'has no signature by a trusted key' : 'has no signature';
    return { ok: false, reason, tried };
  }

  /** Indexes tagged in `repo` that list `digest` (one map per repository, rebuilt after any change). */
  private async parents(repo: string, digest: Digest): Promise<Digest[]> {
    const changes = this.registry.changes();
    let entry = this.parentMaps.get(repo);
    if (!entry || entry.changes !== changes) {
      entry = { changes, parents: await this.indexChildren(repo) };
      if (this.parentMaps.size >= 1000) this.parentMaps.clear();
      this.parentMaps.set(repo, entry);
    }
    return entry.parents.get(digest) ?? [];
  }

  private async indexChildren(repo: string): Promise<Map<Digest, Digest[]>> {
    const parents = new Map<Digest, Digest[]>();
    const seen = new Set<Digest>();
    let last: string | undefined;
    for (;;) {
      const page = await this.registry.listTags(repo, { n: this.registry.limits.pageMax, last });
      for (const tag of page.items) {
        if (ATTACHED_TAG.test(tag)) continue;
        const rec = await this.registry.statManifest(repo, tag).catch(() => undefined);
        if (!rec || !isIndexMediaType(rec.mediaType) || seen.has(rec.digest)) continue;
        seen.add(rec.digest);
        const p = parseManifest(await this.registry.manifestBytes(rec.digest), rec.mediaType);
        if (p.kind !== 'index') continue;
        for (const m of p.manifest.manifests) parents.set(m.digest, [...(parents.get(m.digest) ?? []), rec.digest]);
      }
      if (page.next === null || page.items.length === 0) return parents;
      last = page.items[page.items.length - 1];
    }
  }
}
