/** Severities, as trivy names them (CRITICAL first). */
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface LintRule {
  /** Stable ID: never reused, never renumbered. */
  id: string;
  name: string;
  severity: Severity;
  /** What the rule finds, one line. */
  title: string;
  /** The fix, one line. */
  fix: string;
}

/** Every rule `kura lint` checks; docs/analysis.md#lint-rules documents each under its ID. */
export const LINT_RULES: readonly LintRule[] = [
  {
    id: 'KURA001',
    name: 'root-user',
    severity: 'HIGH',
    title: 'The image runs as root (no USER, or USER root / 0)',
    fix: 'Add a non-root user and end with USER <name> (or USER 10001:10001)',
  },
  {
    id: 'KURA002',
    name: 'secret-in-layer',
    severity: 'CRITICAL',
    title: 'A layer holds a secret (even if a later layer deletes it, the bytes ship)',
    fix: 'Rotate the secret, then rebuild with RUN --mount=type=secret instead of copying it in',
  },
  {
    id: 'KURA003',
    name: 'secret-in-env',
    severity: 'HIGH',
    title: 'An ENV variable holds a secret',
    fix: 'Pass the value at run time (docker run -e / a secrets manager), not in ENV',
  },
  {
    id: 'KURA004',
    name: 'secret-in-history',
    severity: 'HIGH',
    title: 'A build ARG or command left a secret in the image history',
    fix: 'Use RUN --mount=type=secret; ARG values are recorded in the history',
  },
  {
    id: 'KURA005',
    name: 'package-cache',
    severity: 'MEDIUM',
    title: 'A package manager cache is left in a layer',
    fix:
      'Clean it in the same RUN (rm -rf /var/lib/apt/lists/*, apk add --no-cache, npm cache clean --force, pip ' +
      '--no-cache-dir)',
  },
  {
    id: 'KURA006',
    name: 'setuid-setgid',
    severity: 'LOW',
    title: 'A file has the setuid or setgid bit',
    fix: 'Drop the bit if the program does not need it: chmod u-s,g-s FILE',
  },
  {
    id: 'KURA007',
    name: 'world-writable',
    severity: 'MEDIUM',
    title: 'A path outside /tmp is writable by everyone',
    fix: 'chmod o-w the path, or write to /tmp or a volume instead',
  },
  {
    id: 'KURA008',
    name: 'add-url',
    severity: 'MEDIUM',
    title: 'ADD fetched a URL (unpinned, unchecked content)',
    fix: 'Use ADD --checksum=sha256:… or RUN curl with a checksum check',
  },
  {
    id: 'KURA009',
    name: 'no-healthcheck',
    severity: 'LOW',
    title: 'No HEALTHCHECK is set',
    fix: 'Add HEALTHCHECK CMD … (or HEALTHCHECK NONE to say none is wanted)',
  },
  {
    id: 'KURA010',
    name: 'missing-oci-labels',
    severity: 'LOW',
    title: 'OCI labels are missing (source, revision, version, created)',
    fix: 'Set LABEL org.opencontainers.image.source=… (docker/metadata-action sets them all)',
  },
  {
    id: 'KURA011',
    name: 'huge-image',
    severity: 'MEDIUM',
    title: 'The image is large for its kind',
    fix: 'Start from a smaller base (slim, alpine, distroless) and use a multi-stage build',
  },
  {
    id: 'KURA012',
    name: 'latest-only-tag',
    severity: 'LOW',
    title: 'The repository has no tag but latest',
    fix: 'Tag releases with versions (1.2.3, 1.2, git sha) as well as latest',
  },
];

export const RULES_BY_ID = new Map(LINT_RULES.map((r) => [r.id, r]));

export interface Finding {
  ruleId: string;
  severity: Severity;
  /** One line; never contains a secret's value. */
  message: string;
  /** A path in the image (`/root/.ssh/id_rsa`), when the finding is about one. */
  path?: string;
  /** The layer (0 = bottom) the finding is in, when it is in one. */
  layer?: number;
  line?: number;
  /** Identifies the finding across runs without revealing anything: hash of rule, layer diff_id, path, line, kind. */
  fingerprint?: string;
  /** Secret findings: which kind of secret. */
  kind?: string;
  /** The path is gone from the final image (deleted in a later layer), the bytes still ship. */
  deleted?: boolean;
}

/** Package manager caches: a name and the path prefixes (below the root) that hold one. */
export const CACHES: { name: string; prefixes: string[]; keep?: RegExp }[] = [
  { name: 'apt lists', prefixes: ['var/lib/apt/lists/'], keep: /\/(?:lock|partial)$/ },
  { name: 'apt archives', prefixes: ['var/cache/apt/'], keep: /\/(?:lock|partial)$/ },
  { name: 'apk cache', prefixes: ['var/cache/apk/', 'etc/apk/cache/'] },
  { name: 'yum/dnf cache', prefixes: ['var/cache/yum/', 'var/cache/dnf/'] },
  { name: 'npm cache', prefixes: ['root/.npm/', 'home/*/.npm/'] },
  { name: 'yarn cache', prefixes: ['usr/local/share/.cache/yarn/', 'root/.cache/yarn/', 'home/*/.cache/yarn/'] },
  { name: 'pip cache', prefixes: ['root/.cache/pip/', 'home/*/.cache/pip/'] },
];

/** Size thresholds of `huge-image` by the kind of image (override all with --max-size). */
export const SIZE_LIMITS: Record<string, number> = { static: 100e6, alpine: 300e6, debian: 1e9, other: 1e9 };
