import { serveConfigSchema } from './schema.js';
import { configKeys } from './load.js';

/** docs/configuration.md, generated from the schema so the reference cannot drift from the code. */
export function renderConfigReference(): string {
  const defaults = serveConfigSchema.parse({}) as Record<string, any>;
  const get = (path: string[]) => path.reduce<any>((o, k) => o?.[k], defaults);
  const rows = configKeys().map((k) => {
    const d = get(k.path);
    return `| \`${k.path.join('.')}\` | \`${k.env}\` | \`${k.flag}\` | \`${JSON.stringify(d)}\` | ${k.description} |`;
  });
  return [
    '# Configuration reference (`kura serve`)',
    '',
    '<!-- Generated from src/config/schema.ts by `node scripts/gen-config-docs.mjs`; a test fails when it is stale. ' +
      '-->',
    '',
    'One schema, three ways to set it. Precedence: flags > `KURA_*` environment variables > YAML file',
    '(`kura serve --config kura.yml`) > defaults. Unknown keys are refused with a one-line error.',
    'Durations take `ms`, `s`, `m`, `h`, `d` (`168h`) or a number of seconds; sizes take bytes or',
    '`KiB`/`MiB`/`GiB` (`4MiB`). Defaults below are shown after parsing (milliseconds, bytes).',
    '',
    '| key | environment | flag | default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## Lists set in the YAML file only',
    '',
    '| key | meaning |',
    '|---|---|',
    '| `retention.rules` | Kura retention rules; the first rule whose `repositories` glob matches a repository ' +
      'applies to it. Fields: `repositories` (globs), `keepLast` (keep the N most recently pushed unprotected ' +
      'tags), `keepTags` (globs never removed), `keepSemver` (a semver range never removed, e.g. `>=1.0.0`), ' +
      '`removeNotPulledWithin` (duration: tags whose image was neither pulled nor pushed within it), ' +
      '`removeUntaggedOlderThan` (duration). An image loses its referrers (signatures, SBOMs) with it. |',
    '| `retention.ecr` | Amazon ECR lifecycle policies, `{repositories: [globs], policy: {...}}` inline or ' +
      "`{repositories, policyFile: lifecycle.json}` (path relative to the config file), with ECR's `rules`, " +
      '`rulePriority`, `selection.tagStatus`, `tagPrefixList`, `tagPatternList`, `countType` (`imageCountMoreThan`, ' +
      '`sinceImagePushed`), `countNumber`. Used for repositories no Kura rule matches. Validated as ECR validates ' +
      'them: unique `rulePriority`, an `any` rule only last, `tagged` with a `tagPrefixList` or `tagPatternList`, ' +
      "`countUnit: days` with `sinceImagePushed` only; a policy ECR would reject is refused with ECR's reason. |",
    '| `auth.anonymous` | `{repositories: [globs], actions: [pull]}`: what callers without credentials may do. ' +
      'Nothing by default once authentication is on. |',
    '| `auth.rules` | `{users: [globs], repositories: [globs], actions: [pull, push, delete, admin]}`: what ' +
      'authenticated users may do (`admin` implies the rest and opens `/admin/`). With no rules every authenticated ' +
      "user may do everything, as with Distribution's htpasswd. A known user without the right gets 403 `DENIED`; a " +
      'caller without (valid) credentials gets 401 with a `Basic` or, with `auth.token.enabled`, a `Bearer ' +
      'realm=…,service=…,scope=…` challenge. |',
    '| `rateLimits` | `{action: pull, limit: 100, window: 6h, per: caller}`: per user (or client address when ' +
      'anonymous; `per: address` counts by address even for signed-in users) and action: `pull` (manifest GETs; a ' +
      'HEAD is not a pull, as on Docker Hub), `push` (manifest PUTs), `delete`, `request` (every /v2 request). ' +
      'Answers carry `RateLimit-Limit: 100;w=21600` and `RateLimit-Remaining`; over the limit: 429 ' +
      '`TOOMANYREQUESTS` with `Retry-After`. With `metadata.driver: postgres` the windows are counted in the ' +
      'database and aligned to the clock, so all replicas share one budget per caller. |',
    '| (accounts) | With `auth.accounts: true`, users and CI robots kept in the registry authenticate too: `kura ' +
      'user add NAME [--password-stdin]`, `kura user passwd`, `kura user rm`, `kura user list`, and `kura token ' +
      "create --repo 'team/*' --actions pull,push --expires 30d` for a robot that may do only that until then " +
      '(its bearer tokens stop working when it is removed). These commands work on a data directory no server is ' +
      'using; a running server offers the same as an admin API: `GET /admin/v1/accounts`, `POST /admin/v1/accounts` ' +
      '(`{name, password?}` for a user, `{kind: \"robot\", repositories, actions, expiresInSeconds}` for a robot; ' +
      'the generated secret is in the answer), `DELETE /admin/v1/accounts/NAME`. |',
    '| `auth.token.trust` | `{issuer: https://sso.example, jwksFile: jwks.json}` or `{issuer, publicKeyFile: ' +
      'key.pem, algorithm: RS256}`: accept Bearer tokens of an existing identity system (their `aud` must be ' +
      '`auth.token.service`; their `access` claims are taken as they are). Point `auth.token.realm` at that ' +
      "system's token endpoint. |",
    '| `quotas` | `{repositories: [globs], limit: 10GiB}` gives each matching repository its own limit; ' +
      '`{namespaces: [globs], limit: 50GiB}` each matching namespace (first path segment). A blob already in the ' +
      'scope costs nothing (shared layers count once); an upload, mount or manifest that would exceed a limit is ' +
      'refused with 403 `DENIED` naming the scope, its usage and the limit. `kura usage` and `GET /admin/v1/usage` ' +
      'show usage per namespace (deduplicated, and the sum over its repositories) and per repository. |',
    '| `immutability` | `{repositories: [globs], tags: [globs]}`: such tags cannot be moved to another image or ' +
      'deleted (403 `DENIED`); retention never removes them. |',
    '| `verify.rules` | `{repositories: [globs], keys: [cosign.pub], inheritFromIndex: false}`: the pull policy. A ' +
      'manifest GET or HEAD in a matching repository (first matching rule) is answered 403 `DENIED`, naming the ' +
      'reason and the fix, unless a cosign signature (`.sig` tag or sigstore-bundle referrer) by one of the keys ' +
      '(PEM public keys or certificates, read at start) verifies against its digest. With `inheritFromIndex` an ' +
      'index child passes when a signed index tagged in the same repository lists it. Signatures, attestations and ' +
      'SBOMs stay fetchable. See docs/signing.md. |',
    '| `scan.policy` | `{repositories: [globs], blockSeverity: HIGH, onUnscanned: allow}`: the scan pull policy. A ' +
      'manifest GET or HEAD in a matching repository (first matching rule) is answered 403 `DENIED` when its stored ' +
      'scan (`scan.onPush`) has findings at or above `blockSeverity` (an index: any child), naming the count and ' +
      '`GET /admin/v1/scans/REPO/DIGEST`; images not scanned yet are served (`onUnscanned: deny` refuses them). ' +
      'Callers who may push are exempt when authentication is on. See docs/scan.md. |',
    '| `proxy.upstreams` | `{name: hub, url: https://registry-1.docker.io, prefix: hub, credentials: {username, ' +
      'password} or credentialsFile: FILE (one line USER:PASSWORD), ttl: 1h, rateLimit: {requests: 100, window: 6h}, ' +
      'allowPrivate: false, dockerHubMirror: true, namespaces: [docker.io]}`: the pull-through cache. ' +
      '`/v2/hub/library/nginx/...` reads `library/nginx` of that upstream (cached under `hub/library/nginx`), ' +
      "as does `/v2/library/nginx/...?ns=docker.io` (containerd's hosts.toml) and, for the `dockerHubMirror`, " +
      '`/v2/library/...` (`registry-mirrors`). Tags are revalidated by a HEAD after `ttl`; upstream URLs on ' +
      'loopback, link-local or private addresses are refused unless `allowPrivate`. See docs/proxy.md. |',
    '| `replication.rules` | `{name: to-dr, repositories: [team/**], tags: [v*], to: {url: https://dr.example:5000, ' +
      'prefix: mirror, credentialsFile: FILE or credentialsEnv: VAR (USER:PASSWORD), tlsVerify: true}, onPush: true, ' +
      'schedule: 1h}`: copies matching local repositories (every platform, signatures and referrers along, only ' +
      'what changed) to `to.url/prefix/REPO`, after each push and/or every `schedule`. A pull rule ' +
      '`{name: from-hub, repositories: [library/nginx], tags: [1.*], from: {url, credentialsFile, tlsVerify, ' +
      'caFile}, into: mirror, prune: false, schedule: 1h}` fetches those remote repositories into ' +
      '`into/REPO` every `schedule`, skipping what is present by digest; tags gone upstream are kept unless ' +
      '`prune` (which needs `delete.enabled`). This registry is read and written in-process, so auth and TLS ' +
      'may be on. Status in `GET /admin/v1/replication`. See docs/proxy.md. |',
    '',
    '`kura policy plan` prints what the rules remove now and why; `kura policy apply` removes exactly that;',
    '`kura serve` applies them every `retention.interval`. Removed images are deleted by the next garbage collection.',
    '',
    'Example `kura.yml`:',
    '',
    '```yaml',
    'listen: 127.0.0.1:5000',
    'data: /var/lib/kura',
    'log:',
    '  level: info',
    'delete:',
    '  enabled: true',
    'limits:',
    '  manifestMaxBytes: 4MiB',
    'uploads:',
    '  purgeAfter: 168h',
    'gc:',
    '  interval: 1h',
    '  grace: 1h',
    'retention:',
    '  interval: 24h',
    '  rules:',
    '    - repositories: ["team/*"]',
    '      keepLast: 10',
    '      keepTags: [latest, stable]',
    '      keepSemver: ">=1.0.0"',
    '      removeUntaggedOlderThan: 7d',
    '  ecr:',
    '    - repositories: ["legacy/**"]',
    '      policyFile: lifecycle.json',
    'immutability:',
    '  - repositories: ["prod/**"]',
    '    tags: ["v*"]',
    'verify:',
    '  rules:',
    '    - repositories: ["prod/**"]',
    '      keys: [/etc/kura/cosign.pub]',
    '      inheritFromIndex: true',
    'quotas:',
    '  - namespaces: ["team"]',
    '    limit: 50GiB',
    'auth:',
    '  htpasswd: /etc/kura/htpasswd     # htpasswd -Bbn alice s3cret >> /etc/kura/htpasswd',
    '  token:',
    '    enabled: true',
    '  anonymous:',
    '    - repositories: ["public/**"]',
    '      actions: [pull]',
    '  rules:',
    '    - users: [alice]',
    '      repositories: ["**"]',
    '      actions: [admin]',
    '    - users: ["ci-*"]',
    '      repositories: ["team/**"]',
    '      actions: [pull, push]',
    '```',
    '',
  ].join('\n');
}

/**
 * src/config/flags.ts: the flags of `kura serve` (one per config key), as a plain table, so that
 * `kura serve --help` lists them without loading the schema (zod).
 */
export function renderFlagTable(): string {
  const rows = configKeys().map((k) => {
    const fields = { path: k.path, flag: k.flag, description: k.description };
    return `  ${JSON.stringify(fields)},`;
  });
  return [
    '// Generated from src/config/schema.ts by `node scripts/gen-config-docs.mjs`; a test fails when it is stale.',
    '/** The flags of `kura serve`, one per config key (the schema is loaded only when the server starts). */',
    'export const SERVE_FLAGS: readonly { path: readonly string[]; flag: string; description: string }[] = [',
    ...rows,
    '];',
    '',
  ].join('\n');
}
