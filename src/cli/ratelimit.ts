import type { Command } from 'commander';
import { parseImageReference } from '../oci/imageref.js';
import { RegistryClient } from '../transports/registry.js';
import { MANIFEST_ACCEPT, responseError } from './image-options.js';
import { parseCreds } from './locations.js';

/** A rate-limit header value: `100;w=21600` is 100 pulls per 21600-second window. */
export interface RateValue {
  count: number;
  windowSeconds?: number;
}

/** Parses `ratelimit-limit` / `ratelimit-remaining` (`N;w=SECONDS`, as Docker Hub sends them). */
export function parseRateLimit(v: string | null): RateValue | undefined {
  const m = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(v ?? '');
  if (!m) return undefined;
  return { count: Number(m[1]), ...(m[2] ? { windowSeconds: Number(m[2]) } : {}) };
}

function window(s: number | undefined): string {
  if (s === undefined) return '';
  const h = s / 3600;
  return ` per ${Number.isInteger(h) ? `${h}h` : `${s}s`} (${s} s window)`;
}

/** `kura ratelimit [IMAGE]`: the pull limit a registry announces, from a manifest HEAD (not counted as a pull). */
export function registerRatelimit(program: Command): void {
  program
    .command('ratelimit [image]')
    .description('show the pull rate limit a registry announces (Docker Hub: ratelimit-* headers) with a manifest HEAD, which does not count as a pull')
    .option('--creds <user:password>', 'credentials (Docker Hub limits signed-in accounts separately)')
    .option('--plain-http', 'talk plain HTTP to a registry that is not on localhost')
    .option('--json', 'print the result as JSON')
    .action(async (image: string | undefined, opts: { creds?: string; plainHttp?: boolean; json?: boolean }) => {
      const ref = parseImageReference(image ?? 'docker.io/library/alpine:latest');
      // Docker Hub's registry API lives at registry-1.docker.io, not docker.io.
      const host = ref.registry === 'docker.io' ? 'registry-1.docker.io' : ref.registry;
      const client = new RegistryClient({ registry: host, plainHttp: opts.plainHttp, credentials: parseCreds(opts.creds) });
      const reference = ref.digest ?? ref.tag ?? 'latest';
      const res = await client.request('HEAD', `/v2/${ref.repository}/manifests/${reference}`, `repository:${ref.repository}:pull`, { headers: { accept: MANIFEST_ACCEPT } });
      if (!res.ok && res.status !== 429) throw await responseError(res, `HEAD ${host}/${ref.repository}:${reference}`);
      const limit = parseRateLimit(res.headers.get('ratelimit-limit'));
      const remaining = parseRateLimit(res.headers.get('ratelimit-remaining'));
      const source = res.headers.get('docker-ratelimit-source');
      const result = { registry: host, repository: ref.repository, status: res.status, limit: limit ?? null, remaining: remaining ?? null, source: source ?? null };
      if (opts.json) {
        process.stdout.write(JSON.stringify(result) + '\n');
        return;
      }
      if (!limit && !remaining) {
        process.stdout.write(`${host} sends no rate-limit headers for ${ref.repository}: it announces no pull limit\n`);
        return;
      }
      const lines = [`registry:  ${host}`];
      if (limit) lines.push(`limit:     ${limit.count} pulls${window(limit.windowSeconds)}`);
      if (remaining) lines.push(`remaining: ${remaining.count}${res.status === 429 ? ' (429: limit reached; wait, or pass --creds)' : ''}`);
      if (source) lines.push(`source:    ${source}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
