/** The local image store's options, and the docker-style parsing its commands share (filters, until, sizes). */
import type { Command } from 'commander';
import type { LabelFilter, LocalStore } from '../transports/local-store/index.js';
import { UsageError } from './errors.js';

/** Options every image store command takes. */
export interface StoreOptions {
  store?: string;
}

/** Adds `--store DIR` to a command. */
export function withStore(cmd: Command): Command {
  return cmd.option(
    '--store <dir>',
    'image store directory (default: $KURA_STORE, else $XDG_DATA_HOME/kura/store, else ~/.local/share/kura/store)',
  );
}

/** The local image store of --store, $KURA_STORE or the default (its modules load here, not at start-up). */
export async function openStore(opts: StoreOptions): Promise<LocalStore> {
  const { defaultStoreDir, LocalStore } = await import('../transports/local-store/index.js');
  return new LocalStore(opts.store ?? defaultStoreDir(process.env));
}

/** A command group (`kura image …`, `kura system …`), created by whichever command file comes first. */
export function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

/** `key=value` filters as docker takes them, checked against the keys a command knows. */
export function parseFilters(filters: string[], known: string[]): { key: string; value: string }[] {
  return filters.map((f) => {
    const i = f.indexOf('=');
    const key = i > 0 ? f.slice(0, i) : f;
    if (i <= 0 || !known.includes(key))
      throw new UsageError(`invalid filter "${f}": use ${known.map((k) => `${k}=…`).join(', ')}`);
    return { key, value: f.slice(i + 1) };
  });
}

/** `label=k`, `label=k=v`, `label!=k`, `label!=k=v`. */
export function labelFilter(key: string, value: string): LabelFilter {
  const i = value.indexOf('=');
  return {
    key: i < 0 ? value : value.slice(0, i),
    ...(i < 0 ? {} : { value: value.slice(i + 1) }),
    negate: key === 'label!',
  };
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `until=`: a Go duration before now (`24h`, `1h30m`), a Unix timestamp, or an RFC 3339 date. */
export function parseUntil(s: string, now = Date.now()): Date {
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) {
    let ms = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * GO_UNITS[m[2]!]!;
    return new Date(now - ms);
  }
  if (/^\d+(\.\d+)?$/.test(s)) return new Date(Number(s) * 1000);
  const t = Date.parse(s);
  if (Number.isNaN(t))
    throw new UsageError(
      `invalid until "${s}": give a duration (24h, 90m), a Unix timestamp or an RFC 3339 time (2024-05-01T00:00:00Z)`,
    );
  return new Date(t);
}

/** `12.3MB` (decimal, as sizes are shown), `2GiB` (binary) or plain bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?$/i.exec(s.trim());
  if (!m) throw new UsageError(`invalid size "${s}": write it like 500MB, 2GiB or 1000000`);
  const power = ' kmgtp'.indexOf(m[2]!.toLowerCase() || ' ');
  return Math.floor(Number(m[1]) * (m[3] ? 1024 : 1000) ** power);
}

/** Docker's confirmation; without a terminal the user must say -f up front. */
export async function confirm(warning: string, what: string): Promise<boolean> {
  if (!process.stdin.isTTY)
    throw new Error(
      `${what} asks before deleting and stdin is not a terminal: add -f (--force), or see the plan first with ` +
        `--dry-run`,
    );
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${warning}\nAre you sure you want to continue? [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
