/** `kura ci tags`: tags, version, OCI labels and annotations for a CI build, in docker/metadata-action's syntax. */
import { appendFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { collect, outputFlags } from '../options.js';

interface TagsFlags {
  image: string[];
  tag: string[];
  flavor: string[];
  label: string[];
  annotation: string[];
  annotationLevels?: string;
  context: string;
  print: string;
  githubOutput?: boolean;
  json?: boolean;
}

const PRINTS = ['tags', 'labels', 'annotations', 'version'];

/** `kura ci tags`, under `kura ci`. */
export function registerCi(program: Command): void {
  const ci = program.command('ci').description('CI/CD helpers: tags and labels for the image a pipeline builds');
  const tags = ci
    .command('tags')
    .description(
      'compute image tags, the version, OCI labels and annotations from the CI environment (GitHub Actions, ' +
        'GitLab CI) or git, with docker/metadata-action rules; a prerelease git tag never becomes latest',
    )
    .option('--image <names>', 'an image name, or a newline-separated list (the action\'s "images")', collect, [])
    .option('--tag <rules>', 'a rule such as type=semver,pattern={{version}}, or a newline-separated list', collect, [])
    .option('--flavor <lines>', 'latest=auto|true|false, prefix=…, suffix=… (repeatable)', collect, [])
    .option('--label <key=value>', 'an extra label; overrides a generated one (repeatable)', collect, [])
    .option('--annotation <key=value>', 'an extra annotation; overrides a generated one (repeatable)', collect, [])
    .option(
      '--annotation-levels <levels>',
      'manifest,index,manifest-descriptor,index-descriptor (default: DOCKER_METADATA_ANNOTATIONS_LEVELS or manifest)',
    )
    .option('--context <ci>', 'where to read the build from: auto, github, gitlab, git', 'auto')
    .option('--print <what>', `what to print one per line: ${PRINTS.join(', ')}`, 'tags')
    .option('--github-output', 'also append the outputs (version, tags, labels, annotations, json) to $GITHUB_OUTPUT');
  outputFlags(tags, { json: 'print {"version","tags","labels","annotations"} as JSON' }).action(async (o: TagsFlags) =>
    ciTags(o),
  );
}

async function ciTags(o: TagsFlags): Promise<void> {
  if (!['auto', 'github', 'gitlab', 'git'].includes(o.context))
    throw new UsageError(`--context takes auto, github, gitlab or git, not "${o.context}"`);
  if (!PRINTS.includes(o.print)) throw new UsageError(`--print takes ${PRINTS.join(', ')}, not "${o.print}"`);
  const [{ detectContext }, { computeMeta }, { inputLines, RuleError }, out] = await Promise.all([
    import('../../ci/context.js'),
    import('../../ci/meta.js'),
    import('../../ci/rules.js'),
    import('../../ci/output.js'),
  ]);
  const env = process.env;
  const levels = o.annotationLevels ?? env.DOCKER_METADATA_ANNOTATIONS_LEVELS;
  const shortSha = env.DOCKER_METADATA_SHORT_SHA_LENGTH;
  if (shortSha !== undefined && !/^\d+$/.test(shortSha))
    throw new UsageError(`DOCKER_METADATA_SHORT_SHA_LENGTH is "${shortSha}": set it to a number of characters`);
  let meta;
  try {
    const ctx = detectContext(o.context as 'auto');
    const epoch = env.SOURCE_DATE_EPOCH;
    meta = computeMeta(ctx, {
      images: inputLines(o.image),
      tags: inputLines(o.tag),
      flavor: inputLines(o.flavor),
      labels: o.label,
      annotations: o.annotation,
      ...(levels ? { annotationLevels: levels.split(',').map((l) => l.trim()) } : {}),
      ...(epoch && /^\d+$/.test(epoch) ? { now: new Date(Number(epoch) * 1000) } : {}),
      ...(shortSha ? { shortShaLength: Number(shortSha) } : {}),
    });
  } catch (e) {
    if (e instanceof RuleError) throw new UsageError(e.message);
    throw e;
  }
  for (const w of meta.warnings) process.stderr.write(`kura: warning: ${w}\n`);
  if (o.githubOutput) {
    const file = env.GITHUB_OUTPUT;
    if (!file) throw new UsageError('--github-output needs GITHUB_OUTPUT set (the runner sets it in a step)');
    appendFileSync(file, out.githubOutput(meta));
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ version: meta.version, ...out.metaJson(meta) }, null, 2) + '\n');
    return;
  }
  const text = out.outputs(meta)[o.print]!;
  if (text !== '') process.stdout.write(text + '\n');
}
