/**
 * The values and functions of Go's text/template as the docker CLI sets it up for `--format`:
 * fmt's default printing (`[a b]`, `map[k:v]`, `<nil>`), truthiness, and docker's function map
 * (json, join, split, upper, lower, title, pad, truncate) beside Go's builtins.
 */

/** A function failed on its arguments; the caller adds the template position. */
export class FuncError extends Error {}

type Obj = Record<string, unknown>;
export const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether an object stands for a Go map (a missing key is `<no value>`, JSON keys are sorted) rather
 * than a struct (a missing field is an error, JSON keeps field order): maps are empty, hold only
 * strings (labels), or have keys that are not exported Go names (`80/tcp`, `/data`).
 */
export function isMapLike(o: Obj): boolean {
  const keys = Object.keys(o);
  return (
    keys.length === 0 ||
    keys.some((k) => !/^[A-Z][A-Za-z0-9_]*$/.test(k)) ||
    Object.values(o).every((v) => typeof v === 'string')
  );
}

/** fmt's %v: strings raw, `[a b]`, `map[k:v]` (keys sorted), `<nil>`; an empty struct value is `{}`. */
export function goPrint(v: unknown, nested = false): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => goPrint(x, true)).join(' ')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    if (nested && keys.length === 0) return '{}';
    return `map[${keys.map((k) => `${k}:${goPrint(v[k], true)}`).join(' ')}]`;
  }
  return String(v);
}

/**
 * Go's encoding/json: map keys sorted, struct fields in order. Without HTML escaping by default
 * (docker's `json` template function); `html` escapes `<`, `>` and `&` as json.Marshal does (docker
 * inspect's own output). `sort: false` keeps every key where it stands (a stored document as it is).
 */
export function goJson(v: unknown, indent?: string, opts: { html?: boolean; sort?: boolean } = {}): string {
  const sortMaps = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortMaps);
    if (!isObject(x)) return x === undefined ? null : x;
    const keys = opts.sort !== false && isMapLike(x) ? Object.keys(x).sort() : Object.keys(x);
    return Object.fromEntries(keys.filter((k) => x[k] !== undefined).map((k) => [k, sortMaps(x[k])]));
  };
  const escaped = opts.html ? /[<>&\u2028\u2029]/g : /[\u2028\u2029]/g;
  return JSON.stringify(sortMaps(v), null, indent).replace(
    escaped,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Go's truth: false, 0, "", nil and empty slices and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true;
}

export function goType(v: unknown): string {
  if (v === undefined || v === null) return 'nil';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? '[]string' : '[]interface {}';
  if (isObject(v)) return isMapLike(v) ? 'map[string]interface {}' : 'struct';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw new FuncError(`${fn}: wrong type for value; expected string; got ${goType(v)}`);
  return v;
}
function int(v: unknown, fn: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new FuncError(`${fn}: wrong type for value; expected int; got ${goType(v)}`);
  return v;
}
function arity(args: unknown[], n: number, fn: string): void {
  if (args.length !== n) throw new FuncError(`wrong number of args for ${fn}: want ${n} got ${args.length}`);
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goPrint(a);
  });
  return out;
}

/** A subset of fmt.Sprintf: %v %s %d %q %t %x %%, with flags `-` and `0` and a width. */
function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-0]*)(\d*)([vsdqtx%])/g, (_m, flags: string, width: string, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    let s =
      verb === 'q'
        ? JSON.stringify(goPrint(a))
        : verb === 'x' && typeof a === 'number'
          ? a.toString(16)
          : verb === 'x'
            ? Buffer.from(goPrint(a)).toString('hex')
            : goPrint(a);
    const w = Number(width || 0);
    if (s.length < w)
      s = flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb === 'd' ? '0' : ' ');
    return s;
  });
}

function compare(a: unknown, b: unknown, fn: string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new FuncError(`${fn}: incompatible types for comparison (${goType(a)} and ${goType(b)})`);
}

function basicEq(a: unknown, b: unknown): boolean {
  if ((a !== null && typeof a === 'object') || (b !== null && typeof b === 'object'))
    throw new FuncError('eq: uncomparable type (slice or map)');
  return a === b;
}

function index(item: unknown, keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (Array.isArray(v) || typeof v === 'string') {
      const n = int(k, 'index');
      if (n < 0 || n >= v.length) throw new FuncError(`index: index out of range: ${n}`);
      v = typeof v === 'string' ? Buffer.from(v)[n] : v[n];
    } else if (isObject(v)) {
      const key = str(k, 'index');
      // A map of strings (labels) gives "" for a missing key, as Go's map[string]string does.
      v = Object.hasOwn(v, key) ? v[key] : Object.values(v).every((x) => typeof x === 'string') ? '' : undefined;
    } else if (v === null || v === undefined) {
      // A nil map (labels of an image without any) gives "" for a key, as Go's does.
      return typeof k === 'string' ? '' : undefined;
    } else throw new FuncError(`index: can't index item of type ${goType(v)}`);
  }
  return v;
}

function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const c of s) {
    out += /[\p{L}\p{N}_]/u.test(prev) ? c : c.toUpperCase();
    prev = c;
  }
  return out;
}

/**
 * Functions of docker's `--format` (templates.basicFunctions) and Go's builtins. `and`/`or` are evaluated lazily by the
 * executor.
 */
export const FUNCS: Record<string, (args: unknown[]) => unknown> = {
  json: (a) => (arity(a, 1, 'json'), goJson(a[0])),
  join: (a) => {
    arity(a, 2, 'join');
    const list = a[0] ?? [];
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
      throw new FuncError(`join: wrong type for value; expected []string; got ${goType(list)}`);
    return list.join(str(a[1], 'join'));
  },
  split: (a) => (arity(a, 2, 'split'), str(a[0], 'split').split(str(a[1], 'split'))),
  upper: (a) => (arity(a, 1, 'upper'), str(a[0], 'upper').toUpperCase()),
  lower: (a) => (arity(a, 1, 'lower'), str(a[0], 'lower').toLowerCase()),
  title: (a) => (arity(a, 1, 'title'), title(str(a[0], 'title'))),
  pad: (a) => (
    arity(a, 3, 'pad'),
    ' '.repeat(Math.max(0, int(a[1], 'pad'))) + str(a[0], 'pad') + ' '.repeat(Math.max(0, int(a[2], 'pad')))
  ),
  truncate: (a) => {
    arity(a, 2, 'truncate');
    const s = [...str(a[0], 'truncate')];
    const n = int(a[1], 'truncate');
    return s.length < n ? s.join('') : s.slice(0, n).join('');
  },
  len: (a) => {
    arity(a, 1, 'len');
    const v = a[0];
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (isObject(v)) return Object.keys(v).length;
    throw new FuncError(`len of ${goType(v)}`);
  },
  index: (a) => {
    if (a.length < 1) throw new FuncError('wrong number of args for index: want at least 1 got 0');
    return index(a[0], a.slice(1));
  },
  print: (a) => sprint(a),
  println: (a) => a.map((x) => goPrint(x)).join(' ') + '\n',
  printf: (a) => sprintf(str(a[0], 'printf'), a.slice(1)),
  not: (a) => (arity(a, 1, 'not'), !truthy(a[0])),
  eq: (a) => {
    if (a.length < 2) throw new FuncError('eq: missing argument for comparison');
    return a.slice(1).some((b) => basicEq(a[0], b));
  },
  ne: (a) => (arity(a, 2, 'ne'), !basicEq(a[0], a[1])),
  lt: (a) => (arity(a, 2, 'lt'), compare(a[0], a[1], 'lt') < 0),
  le: (a) => (arity(a, 2, 'le'), compare(a[0], a[1], 'le') <= 0),
  gt: (a) => (arity(a, 2, 'gt'), compare(a[0], a[1], 'gt') > 0),
  ge: (a) => (arity(a, 2, 'ge'), compare(a[0], a[1], 'ge') >= 0),
};

/** docker's HeaderFunctions: while a table header is drawn, the string functions return their first argument. */
export const HEADER_FUNCS: Record<string, (args: unknown[]) => unknown> = {
  ...FUNCS,
  ...Object.fromEntries(
    ['json', 'join', 'split', 'upper', 'lower', 'title', 'pad', 'truncate'].map((f) => [f, (a: unknown[]) => a[0]]),
  ),
};
