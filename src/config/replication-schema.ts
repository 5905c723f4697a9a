/** Replication rules of `kura serve` in the configuration: `replication.rules` (YAML only). */
import { z } from 'zod';
import { bool, duration, globs } from './values.js';

export const replicationRuleSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'a lower-case name such as "to-dr"'),
    repositories: globs.describe('Local repositories to replicate (globs: `team/**`).'),
    tags: globs.optional().describe('Tags to replicate (globs: `v*`); absent: every tag.'),
    to: z.strictObject({
      url: z.string().min(1),
      prefix: z.string().optional(),
      credentialsFile: z.string().min(1).optional(),
      credentialsEnv: z.string().min(1).optional(),
      tlsVerify: bool.default(true),
    }),
    onPush: bool.default(false),
    schedule: duration.prefault(0),
  })
  .refine((r) => r.onPush || r.schedule > 0, 'a rule needs a trigger: onPush: true and/or schedule (e.g. 1h)')
  .refine((r) => !(r.to.credentialsFile && r.to.credentialsEnv), 'give to.credentialsFile or to.credentialsEnv');

export const replicationSchema = z
  .strictObject({
    rules: z
      .array(replicationRuleSchema)
      .default([])
      .refine((a) => new Set(a.map((r) => r.name)).size === a.length, 'rule names must differ')
      .describe(
        'Replication to other registries (YAML only): `{name, repositories, tags, to: {url, prefix, ' +
          'credentialsFile | credentialsEnv, tlsVerify}, onPush, schedule}` per rule; see docs/proxy.md.',
      ),
  })
  .prefault({});
