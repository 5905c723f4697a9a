/** `kura ratelimit`: the pull limit a registry announces. */
import type { Command } from 'commander';
import { parseImageReference } from '../../oci/imageref.js';
import { outputFlags, registryFlags, type RegistryFlags } from '../options.js';

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
  const cmd = registryFlags(
    program
      .command('ratelimit [image]')
      .description(
        'show the pull rate limit a registry announces (Docker Hub: ratelimit-* headers) with a manifest HEAD, ' +
          'which does not count as a pull',
      ),
    { mirror: false, creds: 'credentials (Docker Hub limits signed-in accounts separately)' },
  );
  outputFlags(cmd).action(async (image: string | undefined, opts: RegistryFlags & { json?: boolean }) => {
    const ref = parseImageReference(image ?? 'docker.io/library/alpine:latest');
    // No retries: a 429 is an answer here, and its headers are what we came for.
    // The registry client is loaded by the action (start-up: `kura ratelimit --help` loads no transport).
    const { Keychain, RegistryClient, scopes, discard, headerValue, ACCEPT } = await import(
      '../../transports/registry/index.js'
    );
    const { parseCreds } = await import('../../transports/registry/location.js');
    const client = new RegistryClient({
      registry: ref.registry,
      plainHttp: opts.plainHttp,
      insecure: opts.insecure,
      caFile: opts.caFile,
      credentials: parseCreds(opts.creds),
      credentialsFlag: '--creds',
      keychain: new Keychain(),
      retry: { attempts: 1 },
    });
    const host = client.endpoint.base.host;
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const need = { scopes: scopes.pull(ref.repository), repository: ref.repository };
    const res = await client.endpoint.request('HEAD', `/v2/${ref.repository}/manifests/${reference}`, need, {
      headers: { accept: ACCEPT },
    });
    await discard(res);
    if (res.status !== 200 && res.status !== 429)
      throw await client.endpoint.error(res, `HEAD ${host}/${ref.repository}:${reference}`, need);
    const header = (n: string) => headerValue(res, n) ?? null;
    const limit = parseRateLimit(header('ratelimit-limit'));
    const remaining = parseRateLimit(header('ratelimit-remaining'));
    const source = header('docker-ratelimit-source');
    const result = {
      registry: host,
      repository: ref.repository,
      status: res.status,
      limit: limit ?? null,
      remaining: remaining ?? null,
      source: source ?? null,
    };
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
    if (remaining)
      lines.push(
        `remaining: ${remaining.count}${res.status === 429 ? ' (429: limit reached; wait, or pass --creds)' : ''}`,
      );
    if (source) lines.push(`source:    ${source}`);
    process.stdout.write(lines.join('\n') + '\n');
  });
}
