// What every web UI page knows: the viewer's rights, the CSRF token, the theme, and the services behind it.
import type { Authenticator } from '../auth/authenticator.js';
import type { FailureThrottle } from '../auth/throttle.js';
import type { MetadataStore } from '../metadata/types.js';
import type { Action } from '../oci/actions.js';
import type { Registry } from '../registry/registry.js';

/** What the server hands the UI. */
export interface UiDeps {
  registry: Registry;
  meta: MetadataStore;
  /** The registry's authentication; null: an open registry (everyone may do everything the API allows). */
  auth: { authenticator: Authenticator; throttle?: FailureThrottle | null } | null;
  /** Served over TLS: cookies get Secure. */
  tls: boolean;
  /** host[:port] for the pull commands shown; empty: the request's Host. */
  publicHost: string;
  /** Whether UI actions are written to the audit trail (audit.enabled). */
  audit: boolean;
}

/** The person looking at a page, with the same rights the registry API gives them. */
export interface Viewer {
  /** Signed-in account, or null (anonymous). */
  name: string | null;
  can(repo: string, action: Action): boolean;
  /** May run admin actions (GC, retention apply): a global admin. */
  admin: boolean;
  /** May see admin pages (usage, audit, GC): a global admin, or anyone on loopback when authentication is off. */
  adminRead: boolean;
  /** Whether the registry has authentication (a login link makes sense). */
  authEnabled: boolean;
}

export type Theme = 'auto' | 'light' | 'dark';

/** One request's view. */
export interface Ctx {
  viewer: Viewer;
  csrf: string;
  theme: Theme;
  /** The path of this page (for the theme switch to come back to). */
  path: string;
  /** Registry host for pull commands. */
  host: string;
}
