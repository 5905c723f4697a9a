/** The one error version comparisons throw: a version the ecosystem's own tool would refuse. */

export class InvalidVersionError extends Error {
  constructor(
    readonly ecosystem: string,
    readonly version: string,
  ) {
    super(`"${version}" is not a valid ${ecosystem} version`);
    this.name = 'InvalidVersionError';
  }
}
