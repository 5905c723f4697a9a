import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { loadPublicKey } from './keys.js';
import type { GraphStore } from './store.js';
import { identityMatches, verifyImage } from './verify.js';

/**
 * containers-policy.json(5), the part that applies to registries (`transports.docker`): the
 * requirement lists per scope, `default` otherwise. All requirements of a list must be met.
 */
export interface PolicyJson {
  default?: PolicyRequirement[];
  transports?: Record<string, Record<string, PolicyRequirement[]>>;
}

export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export type PolicyRequirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType?: string }
  | {
      type: 'sigstoreSigned';
      keyPath?: string;
      keyPaths?: string[];
      keyData?: string;
      keyDatas?: string[];
      fulcio?: unknown;
      signedIdentity?: SignedIdentity;
    };

/** A policy file read and checked (relative keyPaths resolve against the working directory). */
export interface Policy {
  json: PolicyJson;
  path: string;
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

const TYPES = new Set(['insecureAcceptAnything', 'reject', 'signedBy', 'sigstoreSigned']);

/** Reads a policy.json, refusing unknown requirement types (c/image refuses them too). */
export async function loadPolicy(path: string): Promise<Policy> {
  let json: PolicyJson;
  try {
    json = JSON.parse(await readFile(path, 'utf8')) as PolicyJson;
  } catch (e) {
    throw new PolicyError(`${path}: not a readable policy.json: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(json?.default))
    throw new PolicyError(`${path}: a policy needs a "default" list of requirements (e.g. [{"type":"reject"}])`);
  const lists = [json.default, ...Object.values(json.transports ?? {}).flatMap((t) => Object.values(t))];
  for (const l of lists) {
    if (!Array.isArray(l) || !l.length)
      throw new PolicyError(`${path}: every scope needs a non-empty list of requirements`);
    for (const r of l)
      if (!TYPES.has(r?.type))
        throw new PolicyError(
          `${path}: unknown requirement type "${String(r?.type)}"; use insecureAcceptAnything, reject, signedBy or ` +
            `sigstoreSigned`,
        );
  }
  return { json, path };
}

/**
 * The requirements for an image reference (`registry/repo[:tag][@digest]`): the most specific scope
 * of `transports.docker` — the exact reference, the repository, then each parent namespace, then the
 * host, then `*.domain` wildcards — else the docker transport's `""`, else `default`.
 */
export function requirementsFor(p: PolicyJson, reference: string, transport = 'docker'): PolicyRequirement[] {
  // Other transports (an `oci:` layout) have path scopes; Kura applies only their `""` scope.
  if (transport !== 'docker') return p.transports?.[transport]?.[''] ?? p.default ?? [{ type: 'reject' }];
  const scopes = p.transports?.docker ?? {};
  const repo = reference.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
  if (scopes[reference]) return scopes[reference]!;
  for (let s = repo; s; s = s.includes('/') ? s.slice(0, s.lastIndexOf('/')) : '') if (scopes[s]) return scopes[s]!;
  const host = repo.split('/')[0]!.replace(/:\d+$/, '');
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) {
    const w = `*.${labels.slice(i).join('.')}`;
    if (scopes[w]) return scopes[w]!;
  }
  return scopes[''] ?? p.default ?? [{ type: 'reject' }];
}

/** Whether a signed docker-reference satisfies a signedIdentity for the reference being used. */
export function signedIdentityMatches(si: SignedIdentity | undefined, reference: string, signed: string): boolean {
  const repoOf = (s: string) => s.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
  const named = (s: string) => s !== repoOf(s);
  const t = si ?? { type: 'matchRepoDigestOrExact' };
  switch (t.type) {
    case 'matchExact':
      return named(reference) && named(signed) && signed === reference;
    case 'matchRepoDigestOrExact':
      if (reference.includes('@')) return repoOf(signed) === repoOf(reference);
      return named(reference) && named(signed) && signed === reference;
    case 'matchRepository':
      return repoOf(signed) === repoOf(reference);
    case 'exactReference':
      return signed === t.dockerReference;
    case 'exactRepository':
      return repoOf(signed) === t.dockerRepository;
    case 'remapIdentity':
      return reference.startsWith(t.prefix)
        ? signedIdentityMatches(
            { type: 'matchRepoDigestOrExact' },
            t.signedPrefix + reference.slice(t.prefix.length),
            signed,
          )
        : signedIdentityMatches({ type: 'matchRepoDigestOrExact' }, reference, signed);
    default:
      return false;
  }
}

async function requirementKeys(r: Extract<PolicyRequirement, { type: 'sigstoreSigned' }>): Promise<KeyObject[]> {
  const paths = [...(r.keyPath ? [r.keyPath] : []), ...(r.keyPaths ?? [])];
  const datas = [...(r.keyData ? [r.keyData] : []), ...(r.keyDatas ?? [])];
  const keys: KeyObject[] = [];
  for (const p of paths) keys.push(loadPublicKey(await readFile(p, 'utf8'), p));
  for (const d of datas) keys.push(loadPublicKey(Buffer.from(d, 'base64').toString('utf8'), 'keyData'));
  return keys;
}

/** The verdict of a policy on an image: accepted, or the reason it is not. */
export interface PolicyVerdict {
  accepted: boolean;
  reason: string;
}

/**
 * Evaluates the policy for the image at `ref` in `store`, named `reference` (what signedIdentity is
 * matched against: `registry/repo:tag` or `registry/repo@digest`); `transport` is skopeo's name.
 */
export async function evaluatePolicy(
  p: Policy,
  store: GraphStore,
  ref: string,
  reference: string,
  transport = 'docker',
): Promise<PolicyVerdict> {
  const reqs = requirementsFor(p.json, reference, transport);
  for (const r of reqs) {
    if (r.type === 'insecureAcceptAnything') continue;
    if (r.type === 'reject') return { accepted: false, reason: `the policy rejects ${reference}` };
    if (r.type === 'signedBy')
      return {
        accepted: false,
        reason: `the policy for ${reference} needs a GPG signature (signedBy), which Kura does not verify`,
      };
    if (r.fulcio && !r.keyPath && !r.keyData && !r.keyPaths && !r.keyDatas)
      return {
        accepted: false,
        reason: `the policy for ${reference} needs a keyless (fulcio) signature, which Kura does not verify yet`,
      };
    const keys = await requirementKeys(r);
    const v = await verifyImage(store, ref, { keys });
    const ok = v.verified.filter(
      (s) => s.identity !== undefined && signedIdentityMatches(r.signedIdentity, reference, s.identity),
    );
    if (!ok.length) {
      const why = v.verified.length
        ? `signed for ${v.verified.map((s) => s.identity).join(', ')}, which the signedIdentity does not accept`
        : v.rejected.length
          ? v.rejected.map((x) => x.reason).join('; ')
          : 'no signature found';
      return { accepted: false, reason: `${reference} has no valid sigstore signature by the policy's keys: ${why}` };
    }
  }
  return {
    accepted: true,
    reason: reqs.every((r) => r.type === 'insecureAcceptAnything')
      ? 'accepted without checks (insecureAcceptAnything)'
      : 'signed as the policy requires',
  };
}

export { identityMatches };
