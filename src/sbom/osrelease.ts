import type { Distro } from './model.js';

/** Parses os-release(5): KEY=value lines, values optionally quoted with shell escapes. */
export function parseOsRelease(text: string): Distro | undefined {
  const kv = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i <= 0) continue;
    let v = line.slice(i + 1).trim();
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) v = v.slice(1, -1);
    if (q === '"') v = v.replace(/\\(["\\`$])/g, '$1');
    kv.set(line.slice(0, i), v);
  }
  const id = kv.get('ID');
  if (!id) return undefined;
  return {
    id,
    ...(kv.get('VERSION_ID') ? { versionId: kv.get('VERSION_ID') } : {}),
    ...(kv.get('VERSION_CODENAME') ? { versionCodename: kv.get('VERSION_CODENAME') } : {}),
    ...(kv.get('PRETTY_NAME') ? { prettyName: kv.get('PRETTY_NAME') } : {}),
    ...(kv.get('ID_LIKE') ? { idLike: kv.get('ID_LIKE')!.split(/\s+/) } : {}),
  };
}

/** The os-release files, in the order os-release(5) says to read them. */
export const OS_RELEASE_PATHS = ['etc/os-release', 'usr/lib/os-release'];
