/** The `{{…}}` expressions of rule values and patterns (a Handlebars subset) and moment-style date formats. */
import { RuleError } from './rules.js';

/** A helper of an expression: its quoted arguments and its key='value' options. */
export type Helper = (args: string[], options: Record<string, string>) => string;
export type Helpers = Record<string, Helper | string>;

const EXPR = /\{\{\s*([^}]*?)\s*\}\}/g;
const TOKEN = /'([^']*)'|"([^"]*)"|([A-Za-z_]+)=(?:'([^']*)'|"([^"]*)"|(\S+))|(\S+)/g;

/** Renders `{{name}}` and `{{name 'arg' key='value'}}` with `helpers`; an unknown name is an error naming it. */
export function render(template: string, helpers: Helpers): string {
  return template.replace(EXPR, (_, body: string) => {
    const [name, ...rest] = [...body.matchAll(TOKEN)];
    const key = name?.[7];
    if (key === undefined) throw new RuleError(`"{{${body}}}" in "${template}" names no expression`);
    const h = helpers[key];
    if (h === undefined)
      throw new RuleError(`unknown expression {{${key}}} in "${template}": use ${Object.keys(helpers).join(', ')}`);
    if (typeof h === 'string') return h;
    const args: string[] = [];
    const options: Record<string, string> = {};
    for (const t of rest) {
      if (t[3] !== undefined) options[t[3]] = t[4] ?? t[5] ?? t[6] ?? '';
      else args.push(t[1] ?? t[2] ?? t[7] ?? '');
    }
    return h(args, options);
  });
}

/** Whether a pattern is exactly `{{raw}}` (the one pattern a prerelease keeps as written). */
export function isRawPattern(pattern: string): boolean {
  return /^\{\{\s*raw\s*\}\}$/.test(pattern);
}

const MONTHS = 'January February March April May June July August September October November December'.split(' ');
const DAYS = 'Sunday Monday Tuesday Wednesday Thursday Friday Saturday'.split(' ');

/** The calendar fields of `d` in time zone `tz` (an IANA name, default UTC). */
function fields(d: Date, tz: string): Record<'Y' | 'M' | 'D' | 'h' | 'm' | 's' | 'wd', number> {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'long',
    }).formatToParts(d);
  } catch {
    throw new RuleError(`unknown time zone tz='${tz}': give an IANA name such as 'Asia/Tokyo' or 'UTC'`);
  }
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return {
    Y: Number(get('year')),
    M: Number(get('month')),
    D: Number(get('day')),
    h: Number(get('hour')),
    m: Number(get('minute')),
    s: Number(get('second')),
    wd: DAYS.indexOf(get('weekday')),
  };
}

function ordinal(n: number): string {
  const t = n % 100;
  const suffix = t >= 11 && t <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

const FORMAT = /\[([^\]]*)\]|YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|dddd|ddd|HH|H|hh|h|mm|m|ss|s|SSS|A|a|Z|X|x/g;

/** Formats a date with moment's tokens (YYYY MM DD HH hh mm ss SSS Do dddd MMMM A a X x Z, [literal]) in `tz`. */
export function formatDate(d: Date, format: string, tz = 'UTC'): string {
  const f = fields(d, tz);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const h12 = f.h % 12 === 0 ? 12 : f.h % 12;
  const offset = Math.round((Date.UTC(f.Y, f.M - 1, f.D, f.h, f.m, f.s) - (d.getTime() - d.getMilliseconds())) / 60000);
  const sign = offset < 0 ? '-' : '+';
  const tokens: Record<string, () => string> = {
    YYYY: () => String(f.Y),
    YY: () => p2(f.Y % 100),
    MMMM: () => MONTHS[f.M - 1]!,
    MMM: () => MONTHS[f.M - 1]!.slice(0, 3),
    MM: () => p2(f.M),
    M: () => String(f.M),
    Do: () => ordinal(f.D),
    DD: () => p2(f.D),
    D: () => String(f.D),
    dddd: () => DAYS[f.wd]!,
    ddd: () => DAYS[f.wd]!.slice(0, 3),
    HH: () => p2(f.h),
    H: () => String(f.h),
    hh: () => p2(h12),
    h: () => String(h12),
    mm: () => p2(f.m),
    m: () => String(f.m),
    ss: () => p2(f.s),
    s: () => String(f.s),
    SSS: () => String(d.getMilliseconds()).padStart(3, '0'),
    A: () => (f.h < 12 ? 'AM' : 'PM'),
    a: () => (f.h < 12 ? 'am' : 'pm'),
    Z: () => `${sign}${p2(Math.floor(Math.abs(offset) / 60))}:${p2(Math.abs(offset) % 60)}`,
    X: () => String(Math.floor(d.getTime() / 1000)),
    x: () => String(d.getTime()),
  };
  return format.replace(FORMAT, (tok, literal: string | undefined) =>
    literal !== undefined ? literal : tokens[tok]!(),
  );
}

/** A `{{date 'FORMAT' tz='ZONE'}}` helper over a fixed date. */
export function dateHelper(d: Date): Helper {
  return (args, options) => {
    for (const k of Object.keys(options))
      if (k !== 'tz') throw new RuleError(`unknown date option ${k}=: only tz='ZONE' is known`);
    return formatDate(d, args[0] ?? 'YYYYMMDD', options.tz ?? 'UTC');
  };
}
