import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { loadPublicKey } from './keys.js';
import type { GraphStore } from './store.js';
import { identityMatches, verifyImage } from './verify.js';
import type { KeylessPolicy } from './keyless.js';

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
      fulcio?: FulcioRequirement;
      rekorPublicKeyPath?: string;
      rekorPublicKeyPaths?: string[];
      rekorPublicKeyData?: string;
      rekorPublicKeyDatas?: string[];
      signedIdentity?: SignedIdentity;
    };

/** containers-policy.json(5)'s `fulcio`: the CA (a PEM file or base64 PEM) and the exact OIDC issuer and email. */
export interface FulcioRequirement {
  caPath?: string;
  caData?: string;
  oidcIssuer?: string;
  subjectEmail?: string;
}

type SigstoreSigned = Extract<PolicyRequirement, { type: 'sigstoreSigned' }>;

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
    for (const r of l) {
      if (!TYPES.has(r?.type))
        throw new PolicyError(
          `${path}: unknown requirement type "${String(r?.type)}"; use insecureAcceptAnything, reject, signedBy or ` +
            `sigstoreSigned`,
        );
      if (r.type === 'sigstoreSigned') checkSigstoreSigned(r, path);
    }
  }
  return { json, path };
}

/** containers/image's rules for a sigstoreSigned requirement: one source of trust, and a fulcio one complete. */
function checkSigstoreSigned(r: SigstoreSigned, path: string): void {
  const fail = (why: string) => {
    throw new PolicyError(`${path}: a sigstoreSigned requirement ${why}`);
  };
  const keys = [r.keyPath, r.keyPaths, r.keyData, r.keyDatas].filter((x) => x !== undefined).length;
  if (keys + (r.fulcio === undefined ? 0 : 1) !== 1)
    fail('needs exactly one of keyPath, keyPaths, keyData, keyDatas and fulcio');
  if (r.fulcio === undefined) return;
  const f = r.fulcio;
  if (typeof f !== 'object' || f === null) return fail('has a "fulcio" that is not an object');
  if ((f.caPath === undefined) === (f.caData === undefined))
    fail('needs exactly one of fulcio.caPath and fulcio.caData');
  if (!f.oidcIssuer) fail('with fulcio needs fulcio.oidcIssuer (the exact OIDC issuer of the signer)');
  if (!f.subjectEmail) fail('with fulcio needs fulcio.subjectEmail (the exact email of the signer)');
  const rekor = [r.rekorPublicKeyPath, r.rekorPublicKeyPaths, r.rekorPublicKeyData, r.rekorPublicKeyDatas];
  if (rekor.filter((x) => x !== undefined).length !== 1)
    fail(
      'with fulcio needs exactly one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and ' +
        'rekorPublicKeyDatas (the Rekor log that recorded the signature)',
    );
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

/** PEM texts from a requirement's path(s) and base64 data field(s). */
async function pems(paths: (string | undefined)[], datas: (string | undefined)[], what: string) {
  const out: { pem: string; where: string }[] = [];
  for (const p of paths.filter((x): x is string => !!x)) out.push({ pem: await readFile(p, 'utf8'), where: p });
  for (const d of datas.filter((x): x is string => !!x))
    out.push({ pem: Buffer.from(d, 'base64').toString('utf8'), where: what });
  return out;
}

async function requirementKeys(r: SigstoreSigned): Promise<KeyObject[]> {
  const all = await pems([r.keyPath, ...(r.keyPaths ?? [])], [r.keyData, ...(r.keyDatas ?? [])], 'keyData');
  return all.map(({ pem, where }) => loadPublicKey(pem, where));
}

/** The keyless verification a `fulcio` requirement asks for: its CA, the Rekor keys, the exact email and issuer. */
async function fulcioPolicy(r: SigstoreSigned, f: FulcioRequirement): Promise<KeylessPolicy> {
  const { policyTrust } = await import('./keyless.js');
  const [ca] = await pems([f.caPath], [f.caData], 'fulcio.caData');
  const rekor = await pems(
    [r.rekorPublicKeyPath, ...(r.rekorPublicKeyPaths ?? [])],
    [r.rekorPublicKeyData, ...(r.rekorPublicKeyDatas ?? [])],
    'rekorPublicKeyData',
  );
  const keys = rekor.map(({ pem, where }) => ({ key: loadPublicKey(pem, where), where }));
  return {
    trust: policyTrust(ca!.pem, ca!.where, keys),
    noSct: true,
    identity: f.subjectEmail,
    issuer: f.oidcIssuer,
  };
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
    const rekor = r.rekorPublicKeyPath ?? r.rekorPublicKeyPaths ?? r.rekorPublicKeyData ?? r.rekorPublicKeyDatas;
    if (!r.fulcio && rekor !== undefined)
      return {
        accepted: false,
        reason:
          `the policy for ${reference} needs key signatures logged in Rekor (keyPath with rekorPublicKey...), ` +
          `which Kura does not verify yet`,
      };
    const by = r.fulcio ? `the policy's Fulcio identity ${r.fulcio.subjectEmail}` : "the policy's keys";
    const v = r.fulcio
      ? await verifyImage(store, ref, { keys: [], keyless: await fulcioPolicy(r, r.fulcio) })
      : await verifyImage(store, ref, { keys: await requirementKeys(r) });
    const ok = v.verified.filter(
      (s) => s.identity !== undefined && signedIdentityMatches(r.signedIdentity, reference, s.identity),
    );
    if (!ok.length) {
      const why = v.verified.length
        ? `signed for ${v.verified.map((s) => s.identity).join(', ')}, which the signedIdentity does not accept`
        : v.rejected.length
          ? v.rejected.map((x) => x.reason).join('; ')
          : 'no signature found';
      return { accepted: false, reason: `${reference} has no valid sigstore signature by ${by}: ${why}` };
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
