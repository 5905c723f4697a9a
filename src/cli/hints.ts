/** The CLI's wording of the registry client's error hints: the flag or command that fixes it, not the library option. */
import type { RegistryHint } from '../transports/registry/errors.js';
import { hintedError, libraryFix } from '../transports/registry/errors.js';

/** A hint as the CLI words it (`--insecure`, `--plain-http`, `kura login HOST`, `--force`). */
export function cliFix(h: RegistryHint): string {
  switch (h.option) {
    case 'caFile':
      return (
        `trust its CA with --ca-file FILE or certs.d/${h.host}/ca.crt (KURA_CERTS_D, /etc/containers/certs.d, ` +
        `/etc/docker/certs.d), or use --insecure to accept it anyway`
      );
    case 'insecure':
      return 'check the address; if it serves HTTPS, use --insecure';
    case 'plainHttp':
      if (!h.value) return 'drop --plain-http, or use --insecure for a self-signed certificate';
      return `${h.unreachable ? 'check the address, and ' : ''}use --plain-http for a registry without TLS`;
    case 'credentials':
      if (h.flag) return libraryFix(h);
      return h.situation === 'missing'
        ? `run "kura login ${h.registry}" first`
        : h.situation === 'refused'
          ? `run "kura login ${h.registry}" with the right ones`
          : `ask for access, or run "kura login ${h.registry}" as another user`;
    case 'rateLimit':
      return (
        'Docker Hub limits pulls; run "kura ratelimit" to see what is left, log in (kura login) for a higher limit, ' +
        'or use a registry mirror'
      );
    case 'widen':
      return 'pass --force to delete the manifest, and every tag of it, anyway';
    case 'idleTimeoutMs':
      return 'the registry is stuck or unreachable; try again later';
  }
}

/** An error's message with the fix of its registry hint (if it or a cause has one) in the CLI's words. */
export function cliMessage(e: unknown, message: string): string {
  const h = hintedError(e);
  return h?.hint ? message.replace(libraryFix(h.hint), cliFix(h.hint)) : message;
}
