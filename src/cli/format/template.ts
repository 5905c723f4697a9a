import { FUNCS, FuncError, HEADER_FUNCS, goPrint, isMapLike, isObject, truthy, goType } from './template-funcs.js';
import { tabwrite } from './tabwriter.js';
import {
  TemplateError,
  parseTemplate,
  templateError,
  type Arg,
  type Block,
  type Cmd,
  type Node,
  type Pipe,
} from './template-parse.js';

/**
 * The subset of Go's text/template that `docker … --format` users write: `{{.A.B}}`, `{{json .X}}`,
 * pipelines, `if`/`else`/`range`/`with`/`end`, variables, `{{-`/`-}}` trimming, comments, and
 * docker's `table` prefix. Parsed once, executed against plain JSON-shaped data.
 */

export { TemplateError };

class Exec {
  out = '';
  vars: { name: string; v: unknown }[];
  constructor(
    readonly src: string,
    root: unknown,
    readonly funcs: Record<string, (a: unknown[]) => unknown>,
    /** Drawing a table header: a field of a header string is that string. */
    readonly header = false,
  ) {
    this.vars = [{ name: '$', v: root }];
  }

  fail(pos: number, msg: string): never {
    throw templateError(this.src, pos, msg);
  }

  run(nodes: Node[], dot: unknown): void {
    for (const n of nodes) {
      if (n.k === 'text') this.out += n.s;
      else if (n.k === 'action') {
        const v = this.pipe(n.pipe, dot);
        if (!n.pipe.decl.length) this.out += goPrint(v);
      } else {
        const mark = this.vars.length;
        const v = this.pipe(n.pipe, dot, n.k === 'range');
        if (n.k === 'if') this.run(truthy(v) ? n.then : n.else, dot);
        else if (n.k === 'with') this.run(truthy(v) ? n.then : n.else, truthy(v) ? v : dot);
        else this.range(n, v, dot);
        this.vars.length = mark;
      }
    }
  }

  range(n: Block, v: unknown, dot: unknown): void {
    let items: [unknown, unknown][];
    if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (isObject(v))
      items = Object.keys(v)
        .sort()
        .map((k) => [k, v[k]]);
    else if (typeof v === 'number' && Number.isInteger(v))
      items = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else if (v === null || v === undefined) items = [];
    else return this.fail(n.pipe.pos, `range can't iterate over ${goPrint(v)}`);
    if (!items.length) return this.run(n.else, dot);
    const mark = this.vars.length;
    for (const [key, item] of items) {
      const [a, b] = n.pipe.decl;
      if (a && b) this.vars.push({ name: a, v: key }, { name: b, v: item });
      else if (a) this.vars.push({ name: a, v: item });
      this.run(n.then, item);
      this.vars.length = mark;
    }
  }

  pipe(p: Pipe, dot: unknown, isRange = false): unknown {
    let v: unknown;
    p.cmds.forEach((c, i) => (v = this.cmd(c, dot, i > 0, v)));
    if (isRange) return v;
    for (const name of p.decl) {
      if (!p.assign) this.vars.push({ name, v });
      else {
        const existing = this.lookup(name);
        if (!existing) this.fail(p.pos, `undefined variable "${name}"`);
        existing.v = v;
      }
    }
    return v;
  }

  lookup(name: string): { name: string; v: unknown } | undefined {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i];
    return undefined;
  }

  cmd(c: Cmd, dot: unknown, piped: boolean, prev: unknown): unknown {
    const [first, ...rest] = c.args as [Arg, ...Arg[]];
    if (first.k === 'ident') {
      if (first.name === 'and' || first.name === 'or') return this.andOr(first.name, rest, dot, piped, prev);
      const fn = this.funcs[first.name];
      if (!fn)
        this.fail(
          first.pos,
          `function "${first.name}" not defined (there are: ${[...Object.keys(FUNCS), 'and', 'or'].sort().join(', ')})`,
        );
      const args = rest.map((a) => this.arg(a, dot));
      if (piped) args.push(prev);
      try {
        return fn(args);
      } catch (e) {
        if (e instanceof FuncError) this.fail(first.pos, `error calling ${first.name}: ${e.message}`);
        throw e;
      }
    }
    if (rest.length || piped)
      this.fail(
        c.pos,
        `can't give argument to non-function ${this.src.slice(first.pos, first.pos + 30).split(/[\s|})]/)[0]}`,
      );
    return this.arg(first, dot);
  }

  andOr(name: string, args: Arg[], dot: unknown, piped: boolean, prev: unknown): unknown {
    const thunks: (() => unknown)[] = args.map((a) => () => this.arg(a, dot));
    if (piped) thunks.push(() => prev);
    if (!thunks.length) this.fail(0, `wrong number of args for ${name}`);
    let v: unknown;
    for (const t of thunks) {
      v = t();
      if (name === 'and' ? !truthy(v) : truthy(v)) return v;
    }
    return v;
  }

  arg(a: Arg, dot: unknown): unknown {
    switch (a.k) {
      case 'lit':
        return a.v;
      case 'ident':
        return this.cmd({ args: [a], pos: a.pos }, dot, false, undefined);
      case 'pipe':
        return this.chain(this.pipe(a.pipe, dot), a.chain, a.pos);
      case 'field': {
        let base = dot;
        if (a.base !== 'dot') {
          const found = this.lookup(a.base);
          if (!found) this.fail(a.pos, `undefined variable "${a.base}"`);
          base = found.v;
        }
        return this.chain(base, a.chain, a.pos);
      }
    }
  }

  chain(v: unknown, names: string[], pos: number): unknown {
    for (const name of names) {
      if (v === null || v === undefined) return undefined;
      if (this.header && typeof v === 'string') return v;
      if (!isObject(v)) this.fail(pos, `can't evaluate field ${name} in type ${goType(v)}`);
      if (Object.hasOwn(v, name)) v = v[name];
      else if (isMapLike(v)) return undefined;
      else this.fail(pos, `can't evaluate field ${name}: no such field (fields here: ${Object.keys(v).join(', ')})`);
    }
    return v;
  }
}

/** Executes a Go template against data (as `docker inspect --format` does) and returns the text. */
export function renderTemplate(tmpl: string, data: unknown): string {
  const ex = new Exec(tmpl, data, FUNCS);
  ex.run(parseTemplate(tmpl), data);
  return ex.out;
}

/** Whether a format asks for docker's table (`table {{.A}}\t{{.B}}`). */
export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

/** `CreatedBy` → `CREATED BY`, `ID` → `ID`: the header docker derives from a field name. */
export function headerOf(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

/**
 * docker's list output for a format: with the `table` prefix, a header row (field names, or
 * `headers[field]`) and columns aligned like Go's tabwriter (minimum width 10, padding 3); without
 * it, the template once per row, each followed by a newline.
 */
export function renderTable(format: string, rows: readonly unknown[], headers: Record<string, string> = {}): string {
  const table = isTableFormat(format);
  const tmpl = (table ? format.slice('table'.length) : format).trim();
  const nodes = parseTemplate(tmpl);
  let text = '';
  if (table) {
    const fields = new Set([...Object.keys(headers), ...(isObject(rows[0]) ? Object.keys(rows[0]) : [])]);
    const headerRow = Object.fromEntries([...fields].map((f) => [f, headers[f] ?? headerOf(f)]));
    const ex = new Exec(tmpl, headerRow, HEADER_FUNCS, true);
    ex.run(nodes, headerRow);
    text += ex.out + '\n';
  }
  for (const row of rows) {
    const ex = new Exec(tmpl, row, FUNCS);
    ex.run(nodes, row);
    text += ex.out + '\n';
  }
  return table ? tabwrite(text) : text;
}
