/** Docker Hub mirrors: --registry-mirror, KURA_REGISTRY_MIRRORS, daemon.json. */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Kura's daemon.json: `$XDG_CONFIG_HOME/kura/daemon.json`, default `~/.config/kura/daemon.json`. */
export function daemonJsonPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'kura', 'daemon.json');
}

const LOOPBACK = /^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$/;

/** True for hosts that are plain HTTP by default (`localhost`, `127.x.x.x`, `[::1]`). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/** A mirror as an origin URL: `mirror.example` → `https://mirror.example`, a loopback host → http. */
export function parseMirror(s: string): URL {
  const t = s.trim();
  const withScheme = /^[a-z]+:\/\//i.test(t) ? t : `${isLoopback(t.split('/')[0]!) ? 'http' : 'https'}://${t}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(
      `"${t.slice(0, 200)}" is not a registry mirror URL; write it like https://mirror.example or ` +
        `http://127.0.0.1:5000`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`registry mirror "${t.slice(0, 200)}" must be http:// or https://`);
  return new URL(u.origin);
}

/**
 * Docker Hub mirrors, like daemon.json `registry-mirrors`: the `--registry-mirror` flags if given,
 * else `KURA_REGISTRY_MIRRORS` (comma-separated), else daemon.json's `registry-mirrors`.
 */
export async function loadMirrors(o: { flags?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<URL[]> {
  const env = o.env ?? process.env;
  if (o.flags?.length) return o.flags.map(parseMirror);
  if (env.KURA_REGISTRY_MIRRORS !== undefined)
    return env.KURA_REGISTRY_MIRRORS.split(',')
      .filter((s) => s.trim())
      .map(parseMirror);
  const path = daemonJsonPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let doc: { 'registry-mirrors'?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
  const list = doc['registry-mirrors'];
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))
    throw new Error(`${path}: "registry-mirrors" must be a list of URLs`);
  return (list as string[]).map(parseMirror);
}
