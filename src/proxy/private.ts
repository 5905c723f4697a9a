/** The SSRF guard: upstream URLs that reach loopback, link-local or private addresses are refused unless allowed. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Loopback, link-local, private (RFC 1918, ULA), unspecified or IPv4-mapped forms of them. */
export function isPrivateAddress(address: string): boolean {
  let a = address.toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  if (isIP(a) === 4) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    return (
      x === 127 ||
      x === 10 ||
      x === 0 ||
      (x === 169 && y === 254) ||
      (x === 172 && y >= 16 && y <= 31) ||
      (x === 192 && y === 168) ||
      (x === 100 && y >= 64 && y <= 127)
    );
  }
  if (isIP(a) === 6) {
    return a === '::1' || a === '::' || /^fe[89ab]/.test(a) || /^f[cd]/.test(a);
  }
  return false;
}

/**
 * Checks an upstream URL: http(s) only, no user info, and (unless `allowPrivate`) no host that is or resolves to a
 * private address. Throws an Error naming the fix.
 */
export async function checkUpstreamUrl(name: string, raw: string, allowPrivate: boolean): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`proxy upstream "${name}": url "${raw}" is not a URL; write it like https://registry-1.docker.io`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`proxy upstream "${name}": url must start with http:// or https://`);
  if (url.username || url.password)
    throw new Error(`proxy upstream "${name}": put credentials in credentials or credentialsFile, not in the url`);
  if (url.pathname !== '/' || url.search)
    throw new Error(`proxy upstream "${name}": url is an origin only (no path or query): ${url.origin}`);
  if (allowPrivate) return url;
  const host = url.hostname;
  const refuse = (addr: string) =>
    new Error(
      `proxy upstream "${name}": ${host} is a loopback, link-local or private address (${addr}); ` +
        'set allowPrivate: true on this upstream if that is meant',
    );
  if (host === 'localhost' || host.endsWith('.localhost')) throw refuse(host);
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    if (isPrivateAddress(host)) throw refuse(host);
    return url;
  }
  let addrs: { address: string }[] = [];
  try {
    addrs = await lookup(host, { all: true });
  } catch {
    // Not resolvable now: the guard runs again on no request, so a name that later resolves privately is the
    // operator's; the client's own connection fails while it does not resolve.
    return url;
  }
  const bad = addrs.find((a) => isPrivateAddress(a.address));
  if (bad) throw refuse(bad.address);
  return url;
}
