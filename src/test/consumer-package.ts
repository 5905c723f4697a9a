/**
 * A consumer of the packed package, as a user has it: `npm pack` of this checkout, installed with `npm ci --offline`
 * into a scratch project whose lockfile is cut from ours (the dependency tree `npm ci` already put in the npm
 * cache), with its own TypeScript and @types/node. Used by consumer.test.ts (programs and docs/library.md).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './kura-process.js';

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [k: string]: unknown;
}

/** The lock entries a set of packages needs, found as Node finds them (nested node_modules first, then up). */
export function lockClosure(packages: Record<string, LockEntry>, roots: string[]): Set<string> {
  const out = new Set<string>();
  const visit = (from: string, name: string) => {
    for (let base = from; ; ) {
      const p = `${base ? `${base}/` : ''}node_modules/${name}`;
      const e = packages[p];
      if (e) {
        if (out.has(p)) return;
        out.add(p);
        const deps = { ...e.dependencies, ...e.optionalDependencies, ...e.peerDependencies };
        for (const d of Object.keys(deps)) visit(p, d);
        return;
      }
      if (!base) return; // an optional dependency for another platform
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  for (const r of roots) visit('', r);
  return out;
}

export interface Consumer {
  /** The scratch project: node_modules/ocikura installed from the tarball. */
  dir: string;
  tarball: string;
  /** The files the tarball holds, without the leading `package/`. */
  files: string[];
  /** Runs the consumer's own tsc with the project's tsconfig.json; returns its output (throws on errors). */
  tsc(): string;
}

/** Packs this checkout's built dist/ (no scripts: `npm test` built it) and installs it offline in a new project. */
export function installConsumer(fixture: string): Consumer {
  const root = mkdtempSync(join(tmpdir(), 'kura-consumer-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(root, packed[0]!.filename);
  const dir = join(root, 'app');
  mkdirSync(dir);
  cpSync(fixture, dir, { recursive: true });
  const ours = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const tools = ['typescript', '@types/node'];
  const devDependencies = Object.fromEntries(tools.map((t) => [t, lock.packages[`node_modules/${t}`]!.version!]));
  const spec = `file:${tarball}`;
  const pkg = {
    name: 'kura-consumer',
    private: true,
    type: 'module',
    dependencies: { ocikura: spec },
    devDependencies,
  };
  const packages: Record<string, unknown> = {
    '': { name: pkg.name, dependencies: pkg.dependencies, devDependencies },
    'node_modules/ocikura': {
      version: ours.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      dependencies: ours.dependencies,
    },
  };
  for (const p of lockClosure(lock.packages, [...Object.keys(ours.dependencies), ...tools]))
    packages[p] = lock.packages[p];
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(
    join(dir, 'package-lock.json'),
    JSON.stringify({ name: pkg.name, lockfileVersion: 3, requires: true, packages }, null, 2),
  );
  // No install scripts: the sendfile helper and SQLite's addon are not what the programs exercise; SQLite's
  // prebuilt addon is taken from our install instead of a download or a native build.
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const addon = join('node_modules', 'better-sqlite3', 'build');
  if (existsSync(join(REPO_ROOT, addon))) cpSync(join(REPO_ROOT, addon), join(dir, addon), { recursive: true });
  const files = packed[0]!.files.map((f) => f.path);
  return {
    dir,
    tarball,
    files,
    tsc: () =>
      execFileSync(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
        cwd: dir,
        encoding: 'utf8',
      }),
  };
}
