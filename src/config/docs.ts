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
    '<!-- Generated from src/config/schema.ts by `node scripts/gen-config-docs.mjs`; a test fails when it is stale. -->',
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
    '| `retention.rules` | Kura retention rules; the first rule whose `repositories` glob matches a repository applies to it. Fields: `repositories` (globs), `keepLast` (keep the N most recently pushed unprotected tags), `keepTags` (globs never removed), `keepSemver` (a semver range never removed, e.g. `>=1.0.0`), `removeNotPulledWithin` (duration: tags whose image was neither pulled nor pushed within it), `removeUntaggedOlderThan` (duration). An image loses its referrers (signatures, SBOMs) with it. |',
    '| `retention.ecr` | Amazon ECR lifecycle policies, `{repositories: [globs], policy: {...}}` inline or `{repositories, policyFile: lifecycle.json}` (path relative to the config file), with ECR\'s `rules`, `rulePriority`, `selection.tagStatus`, `tagPrefixList`, `tagPatternList`, `countType` (`imageCountMoreThan`, `sinceImagePushed`), `countNumber`. Used for repositories no Kura rule matches. |',
    '| `quotas` | `{repositories: [globs], limit: 10GiB}` gives each matching repository its own limit; `{namespaces: [globs], limit: 50GiB}` each matching namespace (first path segment). A blob already in the scope costs nothing (shared layers count once); an upload, mount or manifest that would exceed a limit is refused with 403 `DENIED` naming the scope, its usage and the limit. `kura usage` and `GET /admin/v1/usage` show usage per namespace (deduplicated, and the sum over its repositories) and per repository. |',
    '| `immutability` | `{repositories: [globs], tags: [globs]}`: such tags cannot be moved to another image or deleted (403 `DENIED`); retention never removes them. |',
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
    'quotas:',
    '  - namespaces: ["team"]',
    '    limit: 50GiB',
    '```',
    '',
  ].join('\n');
}
