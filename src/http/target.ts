/**
 * The request target, made canonical once, before routing: every later decision (the router, the
 * auth hook, rate limits, the audit trail, the handlers) sees the same path, so no spelling of a
 * path can be one route to the router and another to the auth hook (security audit C1/H1).
 *
 * Accepted: origin-form targets (`/path?query`) whose path, once its percent-escapes are decoded,
 * holds only RFC 3986 path characters (no `%`, so nothing is decoded twice), no empty segment
 * before the last (`//`), no `.`/`..` segment, and no encoded `/`. Only reserved characters may be
 * escaped (`sha256%3A…`); an escaped letter, digit or `-._~` (`/%61dmin`, `/%762`) only hides a
 * route's name. Everything else is refused with 400 before any route runs: absolute-form
 * (`http://host/path`), authority- and asterisk-form, escaped unreserved characters, `%2F`, double
 * encoding, `;` (which the router would cut the path at), control bytes.
 */
export type Target =
  | { ok: true; url: string }
  | { ok: false; reason: string; /** Index of the offending path segment, if one is. */ segment?: number };

/** Decoded path characters a route may hold: unreserved, sub-delims but ';', ':' and '@'. */
const SEGMENT_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@]*$/;

/** Where a refused target is routed, to be answered 400 by one handler (never a real route). */
export const BAD_TARGET_PATH = '/.kura/bad-request-target';

export function canonicalTarget(raw: string): Target {
  if (!raw.startsWith('/')) {
    return {
      ok: false,
      reason: 'the request target must be a path (origin-form), not an absolute URL, authority or "*"',
    };
  }
  const q = raw.search(/[?#]/);
  if (q >= 0 && raw[q] === '#') return { ok: false, reason: 'the request target must not contain a fragment ("#")' };
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  if (
    !path.includes('%') &&
    !path.includes('/.') &&
    !path.includes('//') &&
    SEGMENT_CHARS.test(path.replaceAll('/', ''))
  ) {
    return { ok: true, url: raw }; // the common case: nothing to decode or check further
  }
  const segs = path.split('/');
  const out: string[] = [''];
  for (let i = 1; i < segs.length; i++) {
    const bad = (reason: string): Target => ({ ok: false, reason, segment: i });
    let s = segs[i]!;
    if (s.includes('%')) {
      if (/%2f/i.test(s)) return bad('an encoded "/" (%2F) is not allowed in the path');
      // A letter, digit or -._~ never needs escaping: an escaped one only hides a route's name.
      if (/%(?:[46][1-9a-f]|[57][0-9a]|3[0-9]|2d|2e|5f|7e)/i.test(s))
        return bad('an escaped letter, digit or "-._~" is not allowed in the path (write the character itself)');
      try {
        s = decodeURIComponent(s);
      } catch {
        return bad('the path has an invalid percent-encoding');
      }
    }
    if (!SEGMENT_CHARS.test(s))
      return bad('the path holds characters no route uses (after decoding: "%", ";", spaces or control bytes)');
    if (s === '.' || s === '..') return bad('the path must not contain "." or ".." segments');
    if (s === '' && i < segs.length - 1)
      return bad(i === 1 ? 'the path must not start with "//"' : 'the path must not contain an empty segment ("//")');
    out.push(s);
  }
  return { ok: true, url: out.join('/') + query };
}

/** The family of a matched route: it decides which checks run. Set as route config, never guessed from the path. */
export type RouteFamily = 'v2' | 'token' | 'admin' | 'health' | 'open';
