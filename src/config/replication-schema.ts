/** Replication rules of `kura serve` in the configuration: `replication.rules` (YAML only), push and pull. */
import { z } from 'zod';
import { bool, duration, globs } from './values.js';

/** Another registry a rule copies to (`to`) or from (`from`). */
const remote = {
  url: z.string().min(1),
  credentialsFile: z.string().min(1).optional(),
  credentialsEnv: z.string().min(1).optional(),
  tlsVerify: bool.default(true),
  caFile: z.string().min(1).optional().describe('A PEM CA certificate to trust for this registry.'),
};

const GLOB = /[*?[\]{}!]/;

export const replicationRuleSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'a lower-case name such as "to-dr"'),
    repositories: globs.describe(
      'Local repositories to replicate (globs: `team/**`); with `from`, repository names of the remote (no globs).',
    ),
    tags: globs.optional().describe('Tags to replicate (globs: `v*`); absent: every tag.'),
    to: z.strictObject({ ...remote, prefix: z.string().optional() }).optional(),
    from: z.strictObject(remote).optional(),
    into: z.string().min(1).optional().describe('With `from`: the local path the copies go under.'),
    prune: bool.default(false).describe('With `from`: delete local tags the remote no longer has.'),
    onPush: bool.default(false),
    schedule: duration.prefault(0),
  })
  .refine((r) => (r.to === undefined) !== (r.from === undefined), 'a rule has either to: (push) or from: (pull)')
  .refine((r) => r.onPush || r.schedule > 0, 'a rule needs a trigger: onPush: true and/or schedule (e.g. 1h)')
  .refine((r) => !(r.from && r.onPush), 'a pull rule (from:) runs on a schedule (e.g. 1h), not onPush')
  .refine(
    (r) => r.from !== undefined || (r.into === undefined && !r.prune),
    'into and prune belong to pull rules (from:)',
  )
  .refine(
    (r) => !r.from || !r.repositories.some((x) => GLOB.test(x)),
    'a pull rule (from:) names remote repositories exactly (no globs)',
  )
  .refine(
    (r) => !(r.to?.credentialsFile && r.to.credentialsEnv) && !(r.from?.credentialsFile && r.from.credentialsEnv),
    'give credentialsFile or credentialsEnv',
  );

export const replicationSchema = z
  .strictObject({
    rules: z
      .array(replicationRuleSchema)
      .default([])
      .refine((a) => new Set(a.map((r) => r.name)).size === a.length, 'rule names must differ')
      .describe(
        'Replication to and from other registries (YAML only): `{name, repositories, tags, to: {url, prefix, ' +
          'credentialsFile | credentialsEnv, tlsVerify, caFile}, onPush, schedule}` per push rule, ' +
          '`{name, repositories, tags, from: {url, credentialsFile | credentialsEnv, tlsVerify, caFile}, ' +
          'into, prune, schedule}` per pull rule; see docs/proxy.md.',
      ),
  })
  .prefault({});
