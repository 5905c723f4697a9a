/**
 * Units for people, the one module for them: sizes in decimal units as docker and dive print them (go-units), or in
 * binary units as kura usage prints them against quotas; durations as "3 weeks". No imports, so the CLI's progress can
 * load it for free.
 */

/** go-units HumanDuration, as docker prints "3 weeks ago". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `bytes` scaled down by `base` until under it (or out of units): the number and its unit's index. */
function scale(bytes: number, base: 1000 | 1024, units: readonly string[]): { n: number; i: number } {
  let n = bytes;
  let i = 0;
  while (n >= base && i < units.length - 1) {
    n /= base;
    i++;
  }
  return { n, i };
}

/**
 * A size for people. `decimal` (the default): go-units HumanSizeWithPrecision, decimal units,
 * `precision` significant digits (`3.62MB`, `0B`, `187MB`), as docker and dive print sizes.
 * `binary`: powers of 1024 with `precision` decimals and a space (`1.5 MiB`, `512 B` with 1), as
 * kura usage prints sizes next to quotas written in binary units.
 */
export function humanSize(bytes: number, precision = 3, units: 'decimal' | 'binary' = 'decimal'): string {
  if (units === 'binary') {
    const { n, i } = scale(bytes, 1024, BINARY);
    return `${i === 0 ? n : n.toFixed(precision)} ${BINARY[i]}`;
  }
  const { n, i } = scale(bytes, 1000, DECIMAL);
  // %.Ng: significant digits, trailing zeros dropped, an exponent from 10^N up (as Go does).
  let s = n.toPrecision(precision);
  if (s.includes('e')) s = s.replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2');
  else if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s + DECIMAL[i];
}
