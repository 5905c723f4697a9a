import { fixupSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';

/** Debian copyright-format short names that are not SPDX ids, mapped to the SPDX ones they mean. */
const DEBIAN: Record<string, string> = {
  'gpl-1': 'GPL-1.0-only',
  'gpl-1+': 'GPL-1.0-or-later',
  'gpl-2': 'GPL-2.0-only',
  'gpl-2+': 'GPL-2.0-or-later',
  'gpl-3': 'GPL-3.0-only',
  'gpl-3+': 'GPL-3.0-or-later',
  'lgpl-2': 'LGPL-2.0-only',
  'lgpl-2+': 'LGPL-2.0-or-later',
  'lgpl-2.1': 'LGPL-2.1-only',
  'lgpl-2.1+': 'LGPL-2.1-or-later',
  'lgpl-3': 'LGPL-3.0-only',
  'lgpl-3+': 'LGPL-3.0-or-later',
  'agpl-3': 'AGPL-3.0-only',
  'agpl-3+': 'AGPL-3.0-or-later',
  'gfdl-1.2': 'GFDL-1.2-only',
  'gfdl-1.2+': 'GFDL-1.2-or-later',
  'gfdl-1.3': 'GFDL-1.3-only',
  'gfdl-1.3+': 'GFDL-1.3-or-later',
  'apache-2': 'Apache-2.0',
  'apache-2.0': 'Apache-2.0',
  'bsd-2-clause': 'BSD-2-Clause',
  'bsd-3-clause': 'BSD-3-Clause',
  'bsd-4-clause': 'BSD-4-Clause',
  expat: 'MIT',
  'mpl-1.1': 'MPL-1.1',
  'mpl-2.0': 'MPL-2.0',
  artistic: 'Artistic-1.0-Perl',
  zlib: 'Zlib',
  isc: 'ISC',
};

/** The SPDX id a license name stands for, or undefined. */
export function spdxId(name: string): string | undefined {
  const n = name.trim();
  return DEBIAN[n.toLowerCase()] ?? fixupSpdxId(n);
}

/**
 * A license string as an SPDX expression when every operand is a known id (`MIT`, `(MIT OR Apache-2.0)`,
 * `GPL-2+ or Artistic`), else undefined: the raw name is then kept as a name, never made up.
 */
export function spdxExpression(raw: string): string | undefined {
  const tokens = raw
    .trim()
    .replace(/[()]/g, (p) => ` ${p} `)
    .split(/\s+/)
    .filter(Boolean);
  if (!tokens.length) return undefined;
  const out: string[] = [];
  let operand = false;
  for (const t of tokens) {
    const isOperand = !['AND', 'OR', 'WITH', '(', ')', ','].includes(t.toUpperCase());
    // Two names side by side (`MIT BSD`) is a list, not an expression: keep it as a name.
    if (isOperand && operand) return undefined;
    operand = isOperand || t === ')';
    const op = t.toUpperCase();
    if (op === 'AND' || op === 'OR' || op === 'WITH' || t === '(' || t === ')')
      out.push(op === 'AND' || op === 'OR' || op === 'WITH' ? op : t);
    else if (t === ',') continue;
    else {
      const id =
        spdxId(t) ?? (/^[A-Za-z0-9.+-]+-exception(-[\w.]+)?$/i.test(t) && out.at(-1) === 'WITH' ? t : undefined);
      if (!id) return undefined;
      out.push(id);
    }
  }
  return out.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')');
}
