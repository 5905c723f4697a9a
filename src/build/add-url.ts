/** ADD URL: the file downloaded (its digest checked against --checksum), written with mode 0600 as Docker does. */
import { createHash } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { copyInto, type CopyRequest } from './copy.js';
import { BuildError } from './state.js';

export async function addUrl(
  rootfs: string,
  url: string,
  req: CopyRequest,
  checksum: string | undefined,
  tmp: string,
): Promise<string[]> {
  const res = await fetch(url).catch((e: unknown) => {
    throw new BuildError(`ADD ${url}: ${(e as Error).message}`);
  });
  if (!res.ok) throw new BuildError(`ADD ${url}: the server answered ${res.status} ${res.statusText}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (checksum !== undefined) {
    const [alg, hex] = checksum.split(':') as [string, string | undefined];
    if (!['sha256', 'sha384', 'sha512'].includes(alg) || !hex)
      throw new BuildError(`ADD --checksum=${checksum}: expected sha256:HEX (or sha384:, sha512:)`);
    const got = createHash(alg).update(body).digest('hex');
    if (got !== hex) throw new BuildError(`ADD ${url}: checksum mismatch: expected ${checksum}, got ${alg}:${got}`);
  }
  const name = posix.basename(new URL(url).pathname) || 'download';
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, name), body, { mode: 0o600 });
  const modified = res.headers.get('last-modified');
  const when = modified ? new Date(modified) : new Date(0);
  await utimes(join(tmp, name), when, when);
  return copyInto(
    rootfs,
    [{ root: tmp, keepOwners: false }],
    { ...req, sources: [name], extract: false, chmod: req.chmod ?? 0o600, heredocs: new Map() },
    when,
  );
}
