/** The value types of the configuration: durations, sizes, booleans from the environment, glob lists. */
import { z } from 'zod';

/** "30s", "5m", "168h", "7d" or a number of seconds → milliseconds. */
export const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v * 1000;
  // A bare number (also from a flag or KURA_* variable) counts seconds.
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `invalid duration "${v}" (use e.g. 30s, 5m, 168h, 7d)` });
    return z.NEVER;
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Math.round(Number(m[1]) * unit);
});

/** 4194304, "4MiB", "512KiB", "10GiB", "1GB" → bytes. */
export const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/i.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `invalid size "${v}" (use e.g. 4MiB, 512KiB, 10GiB)` });
    return z.NEVER;
  }
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
});

export const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes' || v === 'on');

export const globs = z.array(z.string().min(1)).min(1);

/** A Kura retention rule (registry/retention.ts explains each field). */
