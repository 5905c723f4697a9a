// Registry operations over raw HTTP, the way docker/podman/skopeo do them.

function withDigest(location, base, digest) {
  const u = new URL(location, base);
  u.searchParams.set('digest', digest);
  return u;
}

/**
 * Push one blob: [HEAD] -> POST /blobs/uploads/ -> PATCH (streamed, chunked, no Content-Range) -> PUT ?digest=.
 * b: { digest, size, buf } or { digest, size, stream: () => Readable }.
 * headFirst: HEAD the blob first and skip it when present (what docker does for every layer).
 * monolithic: POST then a single PUT ?digest= carrying the body (no PATCH).
 * Returns 'exists' or 'pushed'.
 */
export async function pushBlob(client, repo, b, { headFirst = false, monolithic = false } = {}) {
  if (headFirst) {
    const h = await client.request('HEAD', `/v2/${repo}/blobs/${b.digest}`);
    if (h.status === 200) return 'exists';
  }
  const post = await client.expect('start upload', [202], 'POST', `/v2/${repo}/blobs/uploads/`, {
    headers: { 'content-length': '0' },
  });
  const loc = post.headers.location;
  if (!loc) throw new Error(`start upload: POST /v2/${repo}/blobs/uploads/ -> 202 without Location`);
  const body = b.buf ?? b.stream();
  if (monolithic) {
    await client.expect('monolithic upload PUT', [201], 'PUT', withDigest(loc, client.base, b.digest), {
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    return 'pushed';
  }
  const patch = await client.expect('upload PATCH', [202], 'PATCH', new URL(loc, client.base), {
    headers: { 'content-type': 'application/octet-stream' },
    body,
    chunked: true,
  });
  const loc2 = patch.headers.location ?? loc;
  await client.expect('finish upload PUT', [201], 'PUT', withDigest(loc2, client.base, b.digest), {
    headers: { 'content-length': '0' },
  });
  return 'pushed';
}

export async function putManifest(client, repo, ref, m) {
  return client.expect('manifest PUT', [201], 'PUT', `/v2/${repo}/manifests/${ref}`, {
    headers: { 'content-type': m.mediaType },
    body: m.buf,
  });
}

/** Push a whole image (layers, config, manifest under `tag`), layers in parallel-free order like one client. */
export async function pushImage(client, repo, img, tag, { headFirst = true } = {}) {
  let pushed = 0;
  for (const l of img.layers) if ((await pushBlob(client, repo, l, { headFirst })) === 'pushed') pushed++;
  if ((await pushBlob(client, repo, img.config, { headFirst })) === 'pushed') pushed++;
  await putManifest(client, repo, tag, img.manifest);
  return pushed;
}
