/** The inputs of `kura ci tags` in docker/metadata-action's syntax: tag rules, flavor, images (CSV key=value lists). */

/** The rule types, with the priority each has unless `priority=` says otherwise (the highest names the version). */
export const RULE_PRIORITY = {
  schedule: 1000,
  semver: 900,
  pep440: 900,
  match: 800,
  edge: 700,
  ref: 600,
  raw: 200,
  sha: 100,
} as const;
export type RuleType = keyof typeof RULE_PRIORITY;

/** One parsed rule: its type, its attributes as written (defaults filled in) and its priority. */
export interface Rule {
  type: RuleType;
  attrs: Record<string, string>;
  priority: number;
  /** The line it came from, for messages. */
  source: string;
}

/** The rules used when none is given (as the action: schedule, branch, tag and pull request). */
export const DEFAULT_RULES = ['type=schedule', 'type=ref,event=branch', 'type=ref,event=tag', 'type=ref,event=pr'];

/** A bad rule, flavor or image line; the message says what to write instead. */
export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

/** Splits one CSV line: commas separate fields, a field in double quotes may hold commas ("" is a quote). */
export function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') ((cur += '"'), i++);
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur.trim() === '') ((cur = ''), (quoted = true));
    else if (c === ',') (out.push(cur), (cur = ''));
    else cur += c;
  }
  if (quoted) throw new RuleError(`unclosed quote in "${line}": close it with "`);
  out.push(cur);
  return out.map((f) => f.trim()).filter((f) => f !== '');
}

/** Non-empty lines of several inputs (each may be a newline-separated list); `#` starts a comment line. */
export function inputLines(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(/\r?\n/))
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function keyValue(field: string): [string, string] | [string] {
  const i = field.indexOf('=');
  return i <= 0 ? [field] : [field.slice(0, i).trim().toLowerCase(), field.slice(i + 1).trim()];
}

const REQUIRED: Partial<Record<RuleType, string>> = { semver: 'pattern', pep440: 'pattern', match: 'pattern' };
const DEFAULTS: Partial<Record<RuleType, Record<string, string>>> = {
  schedule: { pattern: 'nightly' },
  semver: { value: '' },
  pep440: { value: '' },
  match: { group: '0', value: '' },
  edge: { branch: '' },
  sha: { prefix: 'sha-', format: 'short' },
};

/** Parses one rule line (`type=semver,pattern={{version}}`; a bare word is `type=raw,value=WORD`). */
export function parseRule(line: string): Rule {
  let type: RuleType | undefined;
  const attrs: Record<string, string> = {};
  for (const field of splitCsv(line)) {
    const kv = keyValue(field);
    if (kv.length === 1) attrs.value = kv[0];
    else if (kv[0] === 'type') {
      if (!(kv[1] in RULE_PRIORITY))
        throw new RuleError(`unknown tag type "${kv[1]}" in "${line}": use ${Object.keys(RULE_PRIORITY).join(', ')}`);
      type = kv[1] as RuleType;
    } else attrs[kv[0]] = kv[1];
  }
  type ??= 'raw';
  const need = REQUIRED[type];
  if (need && !(need in attrs)) throw new RuleError(`"${line}" needs ${need}=: add it, e.g. ${need}={{version}}`);
  if (type === 'raw' && !('value' in attrs)) throw new RuleError(`"${line}" needs value=: add it, e.g. value=latest`);
  if (type === 'ref') {
    if (!['branch', 'tag', 'pr'].includes(attrs.event ?? ''))
      throw new RuleError(`"${line}" needs event=branch, event=tag or event=pr`);
    if (attrs.event === 'pr' && !('prefix' in attrs)) attrs.prefix = 'pr-';
  }
  const filled = { ...DEFAULTS[type], ...attrs };
  if (type === 'sha' && !['short', 'long'].includes(filled.format!))
    throw new RuleError(`"${line}": format must be short or long`);
  if (type === 'match' && !/^\d+$/.test(filled.group!))
    throw new RuleError(`"${line}": group must be a number (0 is the whole match)`);
  filled.enable ??= 'true';
  const priority = filled.priority === undefined ? RULE_PRIORITY[type] : Number(filled.priority);
  if (!Number.isInteger(priority)) throw new RuleError(`"${line}": priority must be an integer`);
  return { type, attrs: filled, priority, source: line };
}

/** Parses the rules (the defaults when there are none), highest priority first, in given order among equals. */
export function parseRules(lines: readonly string[]): Rule[] {
  const rules = (lines.length ? lines : DEFAULT_RULES).map(parseRule);
  return rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.priority - a.r.priority || a.i - b.i)
    .map((x) => x.r);
}

/** The flavor: whether to add `latest`, and a global prefix and suffix (also on latest with onlatest=true). */
export interface Flavor {
  latest: 'auto' | 'true' | 'false';
  prefix: string;
  prefixLatest: boolean;
  suffix: string;
  suffixLatest: boolean;
}

/** Parses flavor lines (`latest=auto`, `prefix=x,onlatest=true`, `suffix=-alpine`). */
export function parseFlavor(lines: readonly string[]): Flavor {
  const f: Flavor = { latest: 'auto', prefix: '', prefixLatest: false, suffix: '', suffixLatest: false };
  for (const line of lines) {
    const fields = splitCsv(line).map(keyValue);
    const onlatest = fields.find((kv) => kv[0] === 'onlatest')?.[1] === 'true';
    for (const kv of fields) {
      if (kv.length === 1 || kv[0] === 'onlatest') continue;
      if (kv[0] === 'latest') {
        if (!['auto', 'true', 'false'].includes(kv[1]))
          throw new RuleError(`flavor "${line}": latest is auto|true|false`);
        f.latest = kv[1] as Flavor['latest'];
      } else if (kv[0] === 'prefix') ((f.prefix = kv[1]), (f.prefixLatest = onlatest));
      else if (kv[0] === 'suffix') ((f.suffix = kv[1]), (f.suffixLatest = onlatest));
      else throw new RuleError(`unknown flavor "${kv[0]}" in "${line}": use latest=, prefix=, suffix=`);
    }
  }
  return f;
}

/** Parses image lines: `name/app`, `name=ghcr.io/x/app,enable=false`, or a comma-separated list of names. */
export function parseImages(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const fields = splitCsv(line).map(keyValue);
    if (!fields.some((kv) => kv[0] === 'name')) {
      out.push(...fields.map((kv) => (kv.length === 1 ? kv[0] : `${kv[0]}=${kv[1]}`)));
      continue;
    }
    const name = fields.find((kv) => kv[0] === 'name')?.[1] ?? '';
    const enable = fields.find((kv) => kv[0] === 'enable')?.[1] ?? 'true';
    if (name === '') throw new RuleError(`image "${line}" has an empty name=`);
    if (enable === 'true') out.push(name);
  }
  // Image names are lowercased, as the action does.
  return out.map((n) => n.toLowerCase());
}
