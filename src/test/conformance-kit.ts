/**
 * The 79 cases of the OCI distribution-spec v1.1.1 conformance suite, in its order (from
 * ../shared/reference/conformance-cases.md), and the request steps of its cases, for conformance-cases.ts.
 * Test helper, not a test.
 */
import assert from 'node:assert/strict';
import { digestOf } from '../oci/digest.js';
import { assertStatus, rawRequest, type Content, type Requester, type Res } from './testkit.js';

export const CASES: readonly string[] = [
  'Pull Setup Populate registry with test blob',
  'Pull Setup Populate registry with test blob',
  'Pull Setup Populate registry with test layer',
  'Pull Setup Populate registry with test manifest',
  'Pull Setup Populate registry with test manifest',
  'Pull Setup Get tag name from environment',
  'Pull Pull blobs HEAD request to nonexistent blob should result in 404 response',
  'Pull Pull blobs HEAD request to existing blob should yield 200',
  'Pull Pull blobs GET nonexistent blob should result in 404 response',
  'Pull Pull blobs GET request to existing blob URL should yield 200',
  'Pull Pull manifests HEAD request to nonexistent manifest should return 404',
  'Pull Pull manifests HEAD request to manifest[0] path (digest) should yield 200 response',
  'Pull Pull manifests HEAD request to manifest[1] path (digest) should yield 200 response',
  'Pull Pull manifests HEAD request to manifest path (tag) should yield 200 response',
  'Pull Pull manifests GET nonexistent manifest should return 404',
  'Pull Pull manifests GET request to manifest[0] path (digest) should yield 200 response',
  'Pull Pull manifests GET request to manifest[1] path (digest) should yield 200 response',
  'Pull Pull manifests GET request to manifest path (tag) should yield 200 response',
  'Pull Error codes 400 response body should contain OCI-conforming JSON message',
  'Pull Teardown Delete manifest[0] created in setup',
  'Pull Teardown Delete manifest[1] created in setup',
  'Pull Teardown Delete config[0] blob created in setup',
  'Pull Teardown Delete config[1] blob created in setup',
  'Pull Teardown Delete layer blob created in setup',
  'Push Blob Upload Streamed PATCH request with blob in body should yield 202 response',
  'Push Blob Upload Streamed PUT request to session URL with digest should yield 201 response',
  'Push Blob Upload Monolithic GET nonexistent blob should result in 404 response',
  'Push Blob Upload Monolithic POST request with digest and blob should yield a 201 or 202',
  'Push Blob Upload Monolithic GET request to blob URL from prior request should yield 200 or 404 based on response ' +
    'code',
  'Push Blob Upload Monolithic POST request should yield a session ID',
  'Push Blob Upload Monolithic PUT upload of a blob should yield a 201 Response',
  'Push Blob Upload Monolithic GET request to existing blob should yield 200 response',
  'Push Blob Upload Monolithic PUT upload of a layer blob should yield a 201 Response',
  'Push Blob Upload Monolithic GET request to existing layer should yield 200 response',
  'Push Blob Upload Chunked Out-of-order blob upload should return 416',
  'Push Blob Upload Chunked PATCH request with first chunk should return 202',
  'Push Blob Upload Chunked Retry previous blob chunk should return 416',
  'Push Blob Upload Chunked Get on stale blob upload should return 204 with a range and location',
  'Push Blob Upload Chunked PATCH request with second chunk should return 202',
  'Push Blob Upload Chunked PUT request with digest should return 201',
  'Push Cross-Repository Blob Mount Cross-mounting of a blob without the from argument should yield session id',
  "Push Cross-Repository Blob Mount POST request to mount another repository's blob should return 201 or 202",
  'Push Cross-Repository Blob Mount GET request to test digest within cross-mount namespace should return 200',
  'Push Cross-Repository Blob Mount Cross-mounting of nonexistent blob should yield session id',
  'Push Cross-Repository Blob Mount Cross-mounting without from, and automatic content discovery enabled should ' +
    'return a 201',
  'Push Cross-Repository Blob Mount Cross-mounting without from, and automatic content discovery disabled should ' +
    'return a 202',
  'Push Manifest Upload GET nonexistent manifest should return 404',
  'Push Manifest Upload PUT should accept a manifest upload',
  'Push Manifest Upload Registry should accept a manifest upload with no layers',
  'Push Manifest Upload GET request to manifest URL (digest) should yield 200 response',
  'Push Teardown Delete manifest created in tests',
  'Push Teardown Delete config blob created in tests',
  'Push Teardown Delete layer blob created in setup',
  'Content Discovery Setup Populate registry with test blob',
  'Content Discovery Setup Populate registry with test layer',
  'Content Discovery Setup Populate registry with test tags',
  'Content Discovery Setup Populate registry with test tags (no push)',
  'Content Discovery Setup References setup',
  'Content Discovery Test content discovery endpoints (listing tags) GET request to list tags should yield 200 ' +
    'response',
  'Content Discovery Test content discovery endpoints (listing tags) GET number of tags should be limitable by `n` ' +
    'query parameter',
  'Content Discovery Test content discovery endpoints (listing tags) GET start of tag is set by `last` query parameter',
  'Content Discovery Test content discovery endpoints (listing references) GET request to nonexistent blob should ' +
    'result in empty 200 response',
  'Content Discovery Test content discovery endpoints (listing references) GET request to existing blob should ' +
    'yield 200',
  'Content Discovery Test content discovery endpoints (listing references) GET request to existing blob with filter ' +
    'should yield 200',
  'Content Discovery Test content discovery endpoints (listing references) GET request to missing manifest should ' +
    'yield 200',
  'Content Discovery Teardown Delete created manifest & associated tags',
  'Content Discovery Teardown Delete config blob created in tests',
  'Content Discovery Teardown Delete layer blob created in setup',
  'Content Discovery Teardown References teardown',
  'Content Management Setup Populate registry with test config blob',
  'Content Management Setup Populate registry with test layer',
  'Content Management Setup Populate registry with test tag',
  'Content Management Setup Check how many tags there are before anything gets deleted',
  'Content Management Manifest delete DELETE request to manifest tag should return 202, unless tag deletion is ' +
    'disallowed (400/405)',
  'Content Management Manifest delete DELETE request to manifest (digest) should yield 202 response unless already ' +
    'deleted',
  'Content Management Manifest delete GET request to deleted manifest URL should yield 404 response, unless delete ' +
    'is disallowed',
  'Content Management Manifest delete GET request to tags list should reflect manifest deletion',
  'Content Management Blob delete DELETE request to blob URL should yield 202 response',
  'Content Management Blob delete GET request to deleted blob URL should yield 404 response',
];

/**
 * Cross-mount cases the suite runs only in one configuration: #45 with OCI_AUTOMATIC_CROSSMOUNT=1,
 * #46 with =0. Returns why a case is skipped in this configuration, or null.
 */
export function crossMountCase(n: number, automatic: boolean): string | null {
  if (n === 45 && !automatic) return 'the suite runs it only with OCI_AUTOMATIC_CROSSMOUNT=1 (uploads.automaticMount)';
  if (n === 46 && automatic) return 'the suite runs it only with OCI_AUTOMATIC_CROSSMOUNT=0';
  return null;
}

/**
 * A registry already running at `base` (e.g. nginx in front of replicas, or any registry named by OCI_ROOT_URL as
 * the official suite takes it), for conformanceSuite's `use`: its configuration is whatever that registry runs.
 */
export function remoteRegistry(base: () => string): Requester {
  return { req: (method, path, opts) => rawRequest(base(), undefined, method, path, opts) };
}

// ---- the suite's request steps

export const INVALID = '.INVALID_MANIFEST_NAME';
export const DUMMY = digestOf('conformance: a blob nobody pushed');
export const OCTET = { 'content-type': 'application/octet-stream' };

/** The suite's two-step upload: POST for a session, PUT the bytes with ?digest=; 202 then 201. */
export async function upload(ts: Requester, repo: string, c: Content): Promise<Res> {
  const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
  assertStatus(post, 202);
  assert.ok(post.headers.location, 'a session needs a Location');
  const loc = String(post.headers.location);
  const put = await ts.req('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${c.digest}`, {
    headers: OCTET,
    body: c.bytes,
  });
  assertStatus(put, 201);
  assert.ok(put.headers.location);
  return put;
}

export async function putManifest(ts: Requester, repo: string, ref: string, m: Content): Promise<Res> {
  const res = await ts.req('PUT', `/v2/${repo}/manifests/${ref}`, {
    headers: { 'content-type': m.mediaType },
    body: m.bytes,
  });
  assertStatus(res, 201);
  assert.ok(res.headers.location, 'a manifest PUT answers with a Location');
  return res;
}

export function assertDeleted(res: Res): void {
  assertStatus(res, 202);
}
