/** PEP 440 version ordering (Python's `packaging`), through @renovatebot/pep440. */
import { compare, valid } from '@renovatebot/pep440';
import { InvalidVersionError } from './errors.js';

/** Compares two PEP 440 versions: negative, zero or positive; a version PEP 440 does not allow throws. */
export function comparePep440(a: string, b: string): number {
  if (!valid(a)) throw new InvalidVersionError('PyPI', a);
  if (!valid(b)) throw new InvalidVersionError('PyPI', b);
  return compare(a, b);
}
