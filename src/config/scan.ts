/** The `scan` section of the configuration: scan on push and the scan pull policy (docs/scan.md). */
import { z } from 'zod';
import { bool, duration, globs } from './values.js';

export const scanSection = z
  .strictObject({
    onPush: bool
      .default(false)
      .describe('Scan each pushed image manifest (and each child of a pushed index) in the background (docs/scan.md).'),
    concurrency: z.coerce
      .number()
      .int()
      .min(1)
      .max(8)
      .default(1)
      .describe("Scans run at once (each reads one image's layers)."),
    db: z
      .string()
      .optional()
      .describe('Advisory database file (default: the one `kura db import` writes, osv.sqlite in $KURA_DB_DIR).'),
    recheck: duration
      .prefault('1m')
      .describe('How often the advisory database is checked for a new import; stored results are then re-matched.'),
    policy: z
      .array(
        z.strictObject({
          repositories: globs.describe('Repository globs the rule applies to (first matching rule wins).'),
          blockSeverity: z
            .enum(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])
            .describe('Manifests with a finding at or above this severity are not served.'),
          onUnscanned: z
            .enum(['allow', 'deny'])
            .default('allow')
            .describe('What a manifest not scanned (yet) gets: served, or refused until its scan is done.'),
        }),
      )
      .default([])
      .describe(
        'Pull policy: manifest GETs and HEADs in these repositories answer 403 DENIED when the stored scan has ' +
          'findings at or above blockSeverity (YAML only).',
      ),
  })
  .prefault({});
