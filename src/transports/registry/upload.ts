/** Blob uploads (monolithic or chunked, with mounts) and manifest PUTs of the registry client. */
import type { BlobReader, Descriptor, TransferEvent } from '../../oci/artifact.js';
import { digestAlgorithm, digestOf, isDigest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { Transfer } from '../transfer.js';
import { scopes, type AuthNeed } from './auth.js';
import type { Endpoint } from './endpoint.js';
import { discard, headerValue, type HttpResponse } from './http.js';
import { beyondRetryBudget, isRetryableStatus, isTransientNetworkError, retryAfterMs, retryDelayMs } from './retry.js';

/** Chunk size when a blob is over the threshold and no size was set. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** Blobs go in one streamed PUT unless a chunk size is asked for, as skopeo, podman and buildah send them. */
export const DEFAULT_CHUNK_THRESHOLD = Number.POSITIVE_INFINITY;

/** How blobs are cut for upload. */
export interface Chunking {
  /** Upload in chunks of this many bytes (PATCH with Content-Range); default: monolithic. */
  chunkSize?: number;
  /** Blobs bigger than this are uploaded in chunks even without `chunkSize` (default: never; one streamed PUT). */
  chunkThreshold?: number;
}

/** What one write shares among its blob uploads: where they go (the endpoint knows its retry policy) and how. */
export interface UploadContext {
  endpoint: Endpoint;
  repo: string;
  chunking: Chunking;
  /** A repository of the same registry that may hold the blobs. */
  mountFrom?: string;
  onProgress?: (e: TransferEvent) => void;
  /** Cancels the upload (its requests, its waits); `endpoint` is already bound to it. */
  signal?: AbortSignal;
}

/** An upload that failed in a way a fresh upload session may not: start again from the first byte. */
class Restart extends Error {
  constructor(
    readonly reason: Error,
    readonly waitMs?: number,
  ) {
    super(reason.message);
  }
}

type Outcome = 'done' | 'mounted';

/**
 * Puts one blob into the repository unless it is there (HEAD → `skipped`): mounted from `mountFrom`
 * when the registry can (`mounted`), else uploaded whole or in chunks, verified while it streams.
 *
 * Retries: every request goes through the endpoint's one policy, which resends what it can (Buffer
 * bodies). This loop restarts only whole sessions, when a new session may cure what the endpoint could
 * not resend: a streamed PUT that failed, a 401 mid-upload, a session the registry lost. Its tries and
 * waits come from the same policy.
 */
export async function uploadBlob(ctx: UploadContext, d: Descriptor, from: BlobReader): Promise<void> {
  const ep = ctx.endpoint;
  const retry = ep.o.retry;
  const need: AuthNeed = {
    scopes: ctx.mountFrom ? scopes.mount(ctx.repo, ctx.mountFrom) : scopes.push(ctx.repo),
    repository: ctx.repo,
  };
  const transfer = new Transfer(d, ctx.onProgress);
  const head = await ep.request('HEAD', `/v2/${ctx.repo}/blobs/${d.digest}`, need);
  if (head.status === 401 || head.status === 403)
    throw await ep.error(head, `HEAD ${ep.o.registry}/${ctx.repo} ${d.digest}`, need);
  await discard(head);
  if (head.status === 200) return transfer.end('skipped');
  let authRestarts = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      transfer.end(await uploadOnce(ctx, need, transfer, from));
      return;
    } catch (e) {
      if (!(e instanceof Restart)) throw e;
      const auth = e.reason.name === 'UnauthorizedError';
      if (attempt >= retry.attempts || (auth && authRestarts++ > 0)) throw e.reason;
      await retry.sleep(auth ? 0 : retryDelayMs(attempt, e.waitMs, retry), ctx.signal);
    }
  }
}

/**
 * The error for an answer an upload did not expect, as a Restart when a new session may cure it: a
 * 401, or a busy status the endpoint could not resend (a streamed body); one it retried to its limit
 * is final.
 */
async function restartable(ep: Endpoint, res: HttpResponse, what: string, need: AuthNeed): Promise<Error> {
  const err = await ep.error(res, what, need);
  const busy =
    isRetryableStatus(res.status) && !res.exhausted && !beyondRetryBudget(res.headers['retry-after'], ep.o.retry);
  return busy || res.status === 401 ? new Restart(err, retryAfterMs(res.headers['retry-after'])) : err;
}

async function uploadOnce(ctx: UploadContext, need: AuthNeed, transfer: Transfer, from: BlobReader): Promise<Outcome> {
  const ep = ctx.endpoint;
  const d = transfer.d;
  const what = `upload of ${d.digest} to ${ep.o.registry}/${ctx.repo}`;
  const mount = ctx.mountFrom ? `?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(ctx.mountFrom)}` : '';
  const start = await ep.request('POST', `/v2/${ctx.repo}/blobs/uploads/${mount}`, need, { body: Buffer.alloc(0) });
  if (start.status === 201 && mount) {
    await discard(start);
    return 'mounted';
  }
  const location = headerValue(start, 'location');
  if (start.status !== 202 || !location) {
    if (start.status === 202) await discard(start);
    throw start.status === 202
      ? new Error(`${what}: the registry started an upload without a Location`)
      : await restartable(ep, start, what, need);
  }
  const minChunk = Number(headerValue(start, 'oci-chunk-min-length') ?? 0) || 0;
  await discard(start);
  const opts = ctx.chunking;
  const chunked = opts.chunkSize !== undefined || d.size > (opts.chunkThreshold ?? DEFAULT_CHUNK_THRESHOLD);
  transfer.start();
  let verifyError: Error | undefined;
  const v = transfer.verifying();
  v.on('error', (e) => (verifyError ??= e));
  const src = await from.open(d);
  src.on('error', (e) => v.destroy(e));
  src.pipe(v);
  try {
    if (!chunked) return await monolithic(ep, need, location, d, v, what, () => verifyError);
    return await inChunks(
      ep,
      need,
      location,
      d,
      v,
      Math.max(opts.chunkSize ?? DEFAULT_CHUNK_SIZE, minChunk, 1),
      what,
      () => verifyError,
    );
  } catch (e) {
    src.destroy();
    v.destroy();
    throw verifyError ?? e;
  }
  // On success the body is left to end by itself: the registry's 201 can arrive before the file
  // stream has seen its EOF, and destroying it then would leave the request unended (its socket
  // never returns to the pool and the process never exits).
}

function closeUrl(ep: Endpoint, location: string, d: Descriptor): string {
  const u = new URL(location, ep.base);
  u.searchParams.set('digest', d.digest);
  return u.href;
}

/** The body in one PUT (`?digest=`), streamed. */
async function monolithic(
  ep: Endpoint,
  need: AuthNeed,
  location: string,
  d: Descriptor,
  body: NodeJS.ReadableStream,
  what: string,
  verr: () => Error | undefined,
): Promise<Outcome> {
  let res: HttpResponse;
  try {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(d.size) };
    res = await ep.request('PUT', closeUrl(ep, location, d), need, {
      headers,
      body: body as import('node:stream').Readable,
    });
  } catch (e) {
    if (verr()) throw verr();
    throw isTransientNetworkError(e) ? new Restart(e as Error) : e;
  }
  if (verr()) throw verr();
  if (res.status === 201 || res.status === 204) {
    await discard(res);
    return 'done';
  }
  throw await restartable(ep, res, what, need);
}

/** PATCH chunks with Content-Range, then PUT `?digest=`; a failed chunk goes on from the offset the registry has. */
async function inChunks(
  ep: Endpoint,
  need: AuthNeed,
  location: string,
  d: Descriptor,
  body: NodeJS.ReadableStream,
  size: number,
  what: string,
  verr: () => Error | undefined,
): Promise<Outcome> {
  let loc = location;
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const flush = async (n: number) => {
    const all = Buffer.concat(pending);
    const chunk = all.subarray(0, n);
    pending = n < all.length ? [all.subarray(n)] : [];
    pendingLen = all.length - n;
    loc = await sendChunk(ep, need, loc, chunk, offset, what);
    offset += chunk.length;
  };
  for await (const c of body) {
    pending.push(c as Buffer);
    pendingLen += (c as Buffer).length;
    while (pendingLen >= size) await flush(size);
  }
  if (verr()) throw verr();
  if (pendingLen > 0) await flush(pendingLen);
  const res = await ep.request('PUT', closeUrl(ep, loc, d), need, { body: Buffer.alloc(0) });
  if (res.status === 201 || res.status === 204) {
    await discard(res);
    return 'done';
  }
  throw await restartable(ep, res, what, need);
}

/** The registry's `Range: 0-N` as a byte count; `0-0` is read as nothing (Distribution says so for an empty upload). */
function uploadedBytes(range: string | undefined): number | undefined {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(range?.trim() ?? '');
  if (!m) return undefined;
  const end = Number(m[1]);
  return end === 0 ? 0 : end + 1;
}

/**
 * PATCHes one chunk. The endpoint resends it when busy or reset; when the registry kept part of it
 * (a 416 to the resent range, or an answer lost on the way), this asks how much it holds and goes on
 * from there, as many times as the retry policy allows tries.
 */
async function sendChunk(
  ep: Endpoint,
  need: AuthNeed,
  location: string,
  chunk: Buffer,
  start: number,
  what: string,
): Promise<string> {
  let loc = location;
  let have = 0;
  for (let tries = 0; tries < ep.o.retry.attempts; tries++) {
    const part = chunk.subarray(have);
    const headers = {
      'content-type': 'application/octet-stream',
      'content-range': `${start + have}-${start + chunk.length - 1}`,
      'content-length': String(part.length),
    };
    let res: HttpResponse | undefined;
    try {
      res = await ep.request('PATCH', loc, need, { headers, body: part });
    } catch (e) {
      if (!isTransientNetworkError(e)) throw e;
    }
    if (res && (res.status === 202 || res.status === 204)) {
      const next = headerValue(res, 'location') ?? loc;
      await discard(res);
      return next;
    }
    if (res && res.status !== 416) throw await restartable(ep, res, what, need);
    if (res) await discard(res);
    // How much did the registry keep? Go on from there.
    const st = await ep.request('GET', loc, need);
    // A session the registry no longer knows is worth a new one; a busy status the endpoint already retried is not.
    if (st.status !== 204 && st.status !== 200)
      throw await restartable(ep, st, `${what}: upload status`, need).then((e) =>
        e instanceof Restart || st.exhausted ? e : new Restart(e),
      );
    const got = uploadedBytes(headerValue(st, 'range'));
    loc = headerValue(st, 'location') ?? loc;
    await discard(st);
    if (got === undefined || got < start || got > start + chunk.length)
      throw new Restart(
        new Error(
          `${what}: the registry holds ${got ?? 'an unknown number of'} bytes, not between ${start} and ` +
            `${start + chunk.length}`,
        ),
      );
    have = got - start;
    if (have === chunk.length) return loc;
  }
  throw new Restart(new Error(`${what}: the chunk at ${start} failed ${ep.o.retry.attempts} times`));
}

/** PUTs a manifest under a tag or its digest; the bytes are checked against the descriptor first. */
export async function putManifest(ctx: UploadContext, ref: string, d: Descriptor, manifest: Buffer): Promise<void> {
  const digest = digestOf(manifest, digestAlgorithm(d.digest));
  if (digest !== d.digest)
    throw new OciError('DIGEST_INVALID', `the manifest for ${ref} hashes to ${digest}, not ${d.digest}`);
  const ep = ctx.endpoint;
  const need: AuthNeed = { scopes: scopes.push(ctx.repo), repository: ctx.repo };
  const res = await ep.request('PUT', `/v2/${ctx.repo}/manifests/${ref}`, need, {
    headers: { 'content-type': d.mediaType },
    body: manifest,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 204)
    throw await ep.error(res, `PUT ${ep.o.registry}/${ctx.repo}:${ref}`, need, 'NAME_UNKNOWN');
  const got = headerValue(res, 'docker-content-digest');
  await discard(res);
  if (got && isDigest(got) && digestAlgorithm(got) === digestAlgorithm(d.digest) && got !== d.digest) {
    throw new OciError('DIGEST_INVALID', `${ep.o.registry} stored the manifest for ${ref} as ${got}, not ${d.digest}`);
  }
}
