/** Retention policies in the configuration: Kura's rules and Amazon ECR lifecycle policies. */
import { createRequire } from 'node:module';
import { z } from 'zod';
import { duration, globs } from './values.js';

export const retentionRuleSchema = z.strictObject({
  repositories: globs,
  keepLast: z.number().int().nonnegative().optional(),
  keepTags: z.array(z.string().min(1)).optional(),
  keepSemver: z
    .string()
    // semver is loaded only when a rule uses it (~9 MB of RSS otherwise).
    .refine(
      (r) =>
        (createRequire(import.meta.url)('semver') as typeof import('semver')).validRange(r, { loose: true }) !== null,
      'not a semver range',
    )
    .optional(),
  removeNotPulledWithin: duration.optional(),
  removeUntaggedOlderThan: duration.optional(),
});

/** An Amazon ECR lifecycle policy document, accepted as written for ECR. */
export const ecrPolicySchema = z.object({
  rules: z
    .array(
      z.object({
        rulePriority: z.number().int(),
        description: z.string().optional(),
        selection: z.object({
          tagStatus: z.enum(['tagged', 'untagged', 'any']),
          tagPrefixList: z.array(z.string()).optional(),
          tagPatternList: z.array(z.string()).optional(),
          countType: z.enum(['imageCountMoreThan', 'sinceImagePushed']),
          countUnit: z.literal('days').optional(),
          countNumber: z.number().int().positive(),
        }),
        action: z.object({ type: z.literal('expire') }),
      }),
    )
    .min(1)
    .superRefine((rules, ctx) => {
      // What ECR itself refuses (PutLifecyclePolicy), with its reasons: a policy ECR rejects must
      // not be planned here, where it would expire the wrong images.
      const fail = (i: number, path: (string | number)[], message: string) =>
        ctx.addIssue({ code: 'custom', path: [i, ...path], message: `ECR refuses this policy: ${message}` });
      const top = Math.max(...rules.map((r) => r.rulePriority));
      rules.forEach((r, i) => {
        const sel = r.selection;
        if (r.rulePriority < 1) fail(i, ['rulePriority'], `rulePriority must be 1 or more, not ${r.rulePriority}`);
        if (rules.findIndex((o) => o.rulePriority === r.rulePriority) !== i)
          fail(i, ['rulePriority'], `each rule needs a unique rulePriority; ${r.rulePriority} is used twice`);
        if (
          sel.tagStatus === 'any' &&
          (r.rulePriority !== top || rules.filter((o) => o.selection.tagStatus === 'any').length > 1)
        ) {
          fail(
            i,
            ['rulePriority'],
            `a rule with tagStatus "any" must have the highest rulePriority and be evaluated last (rule ` +
              `${r.rulePriority} is not; ${top} is higher)`,
          );
        }
        const listed = (sel.tagPrefixList?.length ?? 0) + (sel.tagPatternList?.length ?? 0) > 0;
        if (sel.tagStatus === 'tagged' && !listed)
          fail(
            i,
            ['selection'],
            'with tagStatus "tagged" you must also specify a tagPrefixList or tagPatternList value',
          );
        if (sel.tagStatus !== 'tagged' && (sel.tagPrefixList || sel.tagPatternList))
          fail(
            i,
            ['selection'],
            `with tagStatus "${sel.tagStatus}" you must omit both tagPrefixList and tagPatternList`,
          );
        if (sel.countType === 'sinceImagePushed' && sel.countUnit !== 'days')
          fail(i, ['selection', 'countUnit'], 'countType "sinceImagePushed" needs countUnit "days"');
        if (sel.countType === 'imageCountMoreThan' && sel.countUnit !== undefined)
          fail(i, ['selection', 'countUnit'], 'countType "imageCountMoreThan" takes no countUnit');
        for (const p of sel.tagPatternList ?? [])
          if ((p.match(/\*/g) ?? []).length > 4)
            fail(i, ['selection', 'tagPatternList'], `at most four wildcards (*) per pattern: "${p}"`);
      });
    }),
});
