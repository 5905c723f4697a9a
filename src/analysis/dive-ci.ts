import { parse } from 'yaml';

/**
 * dive's CI rules (cmd/dive/cli/internal/options/ci_rules.go), read from the same `.dive-ci` file:
 *
 *     rules:
 *       lowestEfficiency: 0.95           # fail if efficiency < this (ratio)
 *       highestWastedBytes: 20MB         # fail if wasted bytes > this (go-humanize units)
 *       highestUserWastedPercent: 0.20   # fail if user-wasted ratio > this
 *
 * Defaults as dive's: 0.9, disabled, 0.1. Any rule may be "disabled" (or "off").
 */
export interface CiRules {
  lowestEfficiency?: number;
  highestWastedBytes?: number;
  highestUserWastedPercent?: number;
}

export const CI_DEFAULTS: CiRules = { lowestEfficiency: 0.9, highestUserWastedPercent: 0.1 };

export interface RuleResult {
  rule: 'lowestEfficiency' | 'highestWastedBytes' | 'highestUserWastedPercent';
  status: 'PASS' | 'FAIL' | 'SKIP';
  message: string;
}

/** Thrown for a rules file dive would refuse. */
export class CiConfigError extends Error {}

const UNITS: Record<string, number> = {
  b: 1,
  '': 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  p: 1e15,
  pb: 1e15,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
  pi: 1024 ** 5,
  pib: 1024 ** 5,
};

/** go-humanize ParseBytes: `20MB` = 20 000 000, `20MiB` = 20 971 520, `1.5 kB`, `42`. */
export function parseBytes(s: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$/.exec(s.replace(/,/g, ''));
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new CiConfigError(`"${s}" is not a size; write it like 20MB, 1.5GiB or 1000000`);
  return Math.floor(Number(m[1]) * unit);
}

function value(key: keyof CiRules, v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const s = String(v).trim();
  if (/^(disabled|off)$/i.test(s)) return undefined;
  if (key === 'highestWastedBytes') return parseBytes(s);
  const n = Number(s);
  if (!Number.isFinite(n))
    throw new CiConfigError(`rules.${key}: "${s}" is not a number; write a ratio like 0.9 (or "disabled")`);
  return n;
}

/** The rules of a `.dive-ci` file's text over dive's defaults. */
export function parseCiRules(text: string, source = '.dive-ci'): CiRules {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new CiConfigError(`${source} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const rules = doc && typeof doc === 'object' ? (doc as { rules?: unknown }).rules : undefined;
  const out: CiRules = { ...CI_DEFAULTS };
  if (rules === undefined || rules === null) return out;
  if (typeof rules !== 'object')
    throw new CiConfigError(
      `${source}: "rules" must be a mapping of lowestEfficiency, highestWastedBytes, highestUserWastedPercent`,
    );
  for (const [k, v] of Object.entries(rules as Record<string, unknown>)) {
    if (k !== 'lowestEfficiency' && k !== 'highestWastedBytes' && k !== 'highestUserWastedPercent') {
      throw new CiConfigError(
        `${source}: unknown rule "${k}"; dive knows lowestEfficiency, highestWastedBytes, highestUserWastedPercent`,
      );
    }
    try {
      const n = value(k, v);
      if (n === undefined) delete out[k];
      else out[k] = n;
    } catch (e) {
      throw new CiConfigError(`${source}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Evaluates the rules the way dive does (strict < and >). */
export function evaluateCiRules(
  rules: CiRules,
  r: { efficiency: number; wastedBytes: number; userWastedPercent: number },
): RuleResult[] {
  const out: RuleResult[] = [];
  const t = rules.lowestEfficiency;
  out.push(
    t === undefined
      ? { rule: 'lowestEfficiency', status: 'SKIP', message: 'rule disabled' }
      : r.efficiency < t
        ? {
            rule: 'lowestEfficiency',
            status: 'FAIL',
            message: `image efficiency is too low (efficiency=${r.efficiency} < threshold=${t})`,
          }
        : { rule: 'lowestEfficiency', status: 'PASS', message: '' },
  );
  const b = rules.highestWastedBytes;
  out.push(
    b === undefined
      ? { rule: 'highestWastedBytes', status: 'SKIP', message: 'rule disabled' }
      : r.wastedBytes > b
        ? {
            rule: 'highestWastedBytes',
            status: 'FAIL',
            message: `too many bytes wasted (wasted-bytes=${r.wastedBytes} > threshold=${b})`,
          }
        : { rule: 'highestWastedBytes', status: 'PASS', message: '' },
  );
  const p = rules.highestUserWastedPercent;
  out.push(
    p === undefined
      ? { rule: 'highestUserWastedPercent', status: 'SKIP', message: 'rule disabled' }
      : r.userWastedPercent > p
        ? {
            rule: 'highestUserWastedPercent',
            status: 'FAIL',
            message:
              `too many bytes wasted, relative to the user bytes added ` +
              `(%-user-wasted-bytes=${r.userWastedPercent} > threshold=${p})`,
          }
        : { rule: 'highestUserWastedPercent', status: 'PASS', message: '' },
  );
  return out;
}
