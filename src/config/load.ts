import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { dirname, resolve as resolvePath } from 'node:path';
import { ecrPolicySchema } from './retention-schema.js';
import { serveConfigSchema, type ServeConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A leaf of the schema: its dotted path, env variable, flag and description. */
export interface ConfigKey {
  path: string[];
  env: string;
  flag: string;
  description: string;
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

function unwrap(t: z.ZodType): z.ZodType {
  // Peel default/prefault/pipe wrappers to find objects.
  let cur: any = t;
  for (let i = 0; i < 10; i++) {
    const def = cur?._zod?.def;
    if (!def) break;
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional') cur = def.innerType;
    else if (def.type === 'pipe') cur = def.in;
    else break;
  }
  return cur;
}

/** Every settable key, derived from the schema (so env names, flags and docs can never drift). */
export function configKeys(schema: z.ZodType = serveConfigSchema, prefix: string[] = []): ConfigKey[] {
  const obj = unwrap(schema) as any;
  const out: ConfigKey[] = [];
  for (const [k, v] of Object.entries<z.ZodType>(obj._zod.def.shape)) {
    const path = [...prefix, k];
    const inner = unwrap(v) as any;
    if (inner?._zod?.def?.type === 'object') out.push(...configKeys(v, path));
    // Lists (retention rules, immutability) are set in the YAML file only.
    else if (inner?._zod?.def?.type === 'array') continue;
    else
      out.push({
        path,
        env: 'KURA_' + path.map(snake).join('_'),
        flag: '--' + path.map(kebab).join('-'),
        description: (v as any).description ?? '',
      });
  }
  return out;
}

function setPath(target: Record<string, any>, path: string[], value: unknown): void {
  let cur = target;
  for (const p of path.slice(0, -1)) cur = cur[p] ??= {};
  cur[path[path.length - 1]!] = value;
}

/**
 * Builds the effective config. Precedence: flags > KURA_* environment > YAML file > defaults.
 * `flags` maps dotted paths (e.g. "limits.manifestMaxBytes") to raw string values.
 */
export function loadServeConfig(opts: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, string>;
}): ServeConfig {
  let raw: Record<string, any> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(e as Error).message}`);
    }
    try {
      // Loaded only when a file is given: the YAML parser costs ~10 MB of RSS in a server that never needs it.
      const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
      raw = (parse(text) as Record<string, any>) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError(`config file ${opts.file} must be a YAML mapping`);
  }
  const env = opts.env ?? {};
  for (const key of configKeys()) {
    const v = env[key.env];
    if (v !== undefined && v !== '') setPath(raw, key.path, v);
  }
  for (const [dotted, v] of Object.entries(opts.flags ?? {})) setPath(raw, dotted.split('.'), v);
  const parsed = serveConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(top level)';
    throw new ConfigError(`invalid configuration at ${where}: ${issue.message}`);
  }
  for (const [i, e] of parsed.data.retention.ecr.entries()) {
    if (!e.policyFile === !e.policy)
      throw new ConfigError(`invalid configuration at retention.ecr.${i}: give either policy or policyFile`);
    if (e.policyFile) {
      // Relative to the config file, like any path written in it.
      const file = opts.file ? resolvePath(dirname(opts.file), e.policyFile) : e.policyFile;
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new ConfigError(`cannot read ECR lifecycle policy ${file}: ${(err as Error).message.split('\n')[0]}`);
      }
      const policy = ecrPolicySchema.safeParse(doc);
      if (!policy.success) {
        const issue = policy.error.issues[0]!;
        throw new ConfigError(`invalid ECR lifecycle policy ${file} at ${issue.path.join('.')}: ${issue.message}`);
      }
      e.policy = policy.data;
    }
  }
  return parsed.data;
}
