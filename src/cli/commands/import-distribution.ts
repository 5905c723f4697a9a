/** `kura import --from-distribution DIR`: registry:2 filesystem storage into a Kura data directory (offline). */
import { loadServeConfig } from '../server-config.js';

export interface ImportDistributionFlags {
  fromDistribution: string;
  to?: string;
  data?: string;
  json?: boolean;
}

/** Opens the Kura registry of `--to CONFIG` / `--data DIR` (it must not be served meanwhile) and imports into it. */
export async function importFromDistribution(o: ImportDistributionFlags): Promise<void> {
  const flags: Record<string, string> = {};
  if (o.data) flags.data = o.data;
  const config = await loadServeConfig({ file: o.to, env: process.env, flags });
  const { distributionRoot, importDistribution } = await import('../../migrate/distribution.js');
  distributionRoot(o.fromDistribution); // refuse a wrong directory before opening (and creating) the data directory
  const { openRegistry } = await import('../../server/open.js');
  const { registry, dataDir } = await openRegistry(config);
  try {
    const s = await importDistribution(registry, o.fromDistribution, {
      repository: (name, c) => {
        if (!o.json)
          process.stderr.write(
            `kura import: ${name}: ${c.blobs} blobs, ${c.manifests} manifests, ${c.tags} tags, ${c.skipped} skipped\n`,
          );
      },
    });
    for (const e of s.errors) process.stderr.write(`kura import: ${e.repository}: ${e.item}: ${e.message}\n`);
    if (o.json) process.stdout.write(JSON.stringify({ into: dataDir, ...s }, null, 2) + '\n');
    else
      process.stdout.write(
        `imported into ${dataDir}: ${s.repositories} repositories, ${s.tags} tags, ${s.manifests} manifests, ` +
          `${s.blobs} blobs (${s.bytes} bytes), ${s.mounted} blobs mounted, ${s.skipped} already present, ` +
          `${s.errors.length} errors\n`,
      );
    if (s.errors.length > 0)
      throw new Error(
        `${s.errors.length} items were not imported (listed above); fix the source and run the same command ` +
          'again: what is already imported is skipped',
      );
  } finally {
    await registry.close();
  }
}
