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
    '```',
    '',
  ].join('\n');
}
