import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { stackLayers, type FsTree } from './fs-tree.js';
import { shown } from './files.js';
import { indexImage, type ImageIndexOptions, type ScannedIndex } from './image-index.js';
import { CACHES, RULES_BY_ID, SIZE_LIMITS, type Finding } from './lint-rules.js';
import type { ResolvedImage } from './resolve.js';
import { secretAssignments, secretScanner, type SecretHit } from './secrets.js';
import { humanSize } from './units.js';

export interface LintOptions extends ImageIndexOptions {
  /** Bytes above which `huge-image` fires, whatever the kind (default SIZE_LIMITS by kind). */
  maxSize?: number;
  /** The repository's tags, when the image came from a repository (for `latest-only-tag`). */
  tags?: string[];
}

const finding = (ruleId: string, message: string, extra: Partial<Finding> = {}): Finding => ({
  ruleId,
  severity: RULES_BY_ID.get(ruleId)!.severity,
  message,
  ...extra,
});
const fingerprint = (...parts: (string | number)[]) =>
  createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);

function secretFindings(layers: ScannedIndex[], tree: FsTree): Finding[] {
  const out: Finding[] = [];
  layers.forEach((l, i) => {
    for (const h of (l.scans?.[secretScanner.id] ?? []) as SecretHit[]) {
      const final = tree.get(h.path);
      // Deleted (or replaced) above: the final image does not show it, the layer still ships it.
      const deleted = !final || final.layer !== i;
      const where = `${shown(h.path)}${h.line ? `:${h.line}` : ''} in layer ${i}`;
      out.push(
        finding(
          'KURA002',
          `${h.kind} in ${where}${deleted ? ' (deleted or replaced by a later layer; the bytes still ship)' : ''}`,
          {
            path: shown(h.path),
            layer: i,
            ...(h.line ? { line: h.line } : {}),
            kind: h.kind,
            deleted,
            fingerprint: fingerprint('KURA002', l.diffId, h.path, h.line, h.kind),
          },
        ),
      );
    }
  });
  return out;
}

function configFindings(r: ResolvedImage): Finding[] {
  const out: Finding[] = [];
  const c = r.config.config ?? {};
  const user = (c.User ?? '').trim();
  if (!user || /^(?:root|0)(?::.*)?$/.test(user))
    out.push(finding('KURA001', user ? `USER is ${user}` : 'no USER is set, so the image runs as root'));
  for (const s of secretAssignments(c.Env ?? []))
    out.push(
      finding('KURA003', `ENV ${s.name} holds a secret (${s.kind})`, {
        kind: s.kind,
        fingerprint: fingerprint('KURA003', r.image.manifest.config.digest, s.name),
      }),
    );
  (r.config.history ?? []).forEach((h, step) => {
    const cmd = h.created_by ?? '';
    // Classic builder: `|2 A=1 B=2 /bin/sh -c …`; BuildKit: `RUN |2 A=1 B=2 /bin/sh -c …`.
    const args = /^(?:RUN\s+)?\|(\d+)\s+(.*)$/s.exec(cmd);
    const pairs = args ? args[2]!.split(/\s+/).slice(0, Number(args[1])) : [];
    const seen = new Set<string>();
    for (const s of [
      ...secretAssignments(pairs),
      ...secretAssignments(cmd.split(/\s+/).filter((w) => w.includes('='))),
    ]) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      out.push(
        finding('KURA004', `history step ${step} records ${s.name} (${s.kind})`, {
          kind: s.kind,
          fingerprint: fingerprint('KURA004', r.image.manifest.config.digest, step, s.name),
        }),
      );
    }
    if (/(?:^|\s|#\(nop\)\s*)ADD\s+(?:--\S+\s+)*https?:\/\//i.test(cmd) && !/--checksum=/.test(cmd))
      out.push(finding('KURA008', `history step ${step}: ${cmd.replace(/\s+/g, ' ').slice(0, 120)}`));
  });
  if (!c.Healthcheck || !(c.Healthcheck as { Test?: string[] }).Test?.length)
    out.push(finding('KURA009', 'the config has no HEALTHCHECK'));
  const labels = { ...(c.Labels ?? {}), ...r.image.manifest.annotations };
  const missing = ['source', 'revision', 'version', 'created'].filter((k) => !labels[`org.opencontainers.image.${k}`]);
  if (missing.length)
    out.push(finding('KURA010', `missing ${missing.map((k) => `org.opencontainers.image.${k}`).join(', ')}`));
  return out;
}

function treeFindings(layers: ScannedIndex[], tree: FsTree, opts: LintOptions): Finding[] {
  const out: Finding[] = [];
  for (const e of tree.list()) {
    if (e.type !== 'symlink' && e.mode & 0o6000 && e.type === 'file') {
      const bits = [e.mode & 0o4000 ? 'setuid' : '', e.mode & 0o2000 ? 'setgid' : ''].filter(Boolean).join('+');
      out.push(
        finding('KURA006', `${shown(e.path)} is ${bits} (mode ${e.mode.toString(8).padStart(4, '0')})`, {
          path: shown(e.path),
          layer: e.layer,
        }),
      );
    }
    const tmp = e.path === 'tmp' || e.path.startsWith('tmp/') || e.path === 'var/tmp' || e.path.startsWith('var/tmp/');
    if (e.type !== 'symlink' && e.mode & 0o002 && !tmp && !e.hardlink) {
      out.push(
        finding('KURA007', `${shown(e.path)} is world-writable (mode ${e.mode.toString(8).padStart(4, '0')})`, {
          path: shown(e.path),
          layer: e.layer,
        }),
      );
    }
  }
  // Caches: the bytes any layer wrote under a cache directory (deleted later or not, they ship).
  for (const cache of CACHES) {
    const match = picomatch(
      cache.prefixes.map((p) => `${p}**`),
      { dot: true },
    );
    const hits = new Map<number, { bytes: number; files: number }>();
    layers.forEach((l, i) => {
      for (const e of l.entries) {
        if (e.type !== 'file' || !match(e.path) || cache.keep?.test(e.path)) continue;
        const h = hits.get(i) ?? { bytes: 0, files: 0 };
        h.bytes += e.size;
        h.files++;
        hits.set(i, h);
      }
    });
    for (const [i, h] of hits) {
      out.push(
        finding('KURA005', `${cache.name}: ${h.files} files, ${humanSize(h.bytes)} in layer ${i}`, {
          layer: i,
          path: shown(cache.prefixes[0]!.replace(/\/$/, '')),
        }),
      );
    }
  }
  const kind = tree.get('etc/alpine-release')
    ? 'alpine'
    : tree.get('etc/debian_version')
      ? 'debian'
      : !tree.get('bin/sh') && !tree.get('usr/bin/sh')
        ? 'static'
        : 'other';
  const limit = opts.maxSize ?? SIZE_LIMITS[kind]!;
  const size = layers.reduce((n, l) => n + l.size, 0);
  if (size > limit)
    out.push(
      finding(
        'KURA011',
        `${humanSize(size)} of files, above ${humanSize(limit)} for ` +
          `${opts.maxSize !== undefined ? 'the --max-size limit' : `a ${kind} image`}`,
      ),
    );
  if (opts.tags && opts.tags.length > 0 && opts.tags.every((t) => t === 'latest'))
    out.push(finding('KURA012', 'the repository has only the tag latest'));
  return out;
}

/** `kura lint`: every rule of LINT_RULES over one image, reading each layer once (or from the cache). */
export async function lintImage(r: ResolvedImage, opts: LintOptions = {}): Promise<Finding[]> {
  const { layers } = await indexImage(r, { ...opts, scanners: [...(opts.scanners ?? []), secretScanner] });
  const tree = stackLayers(layers, layers.length - 1);
  const order = (f: Finding) => [...RULES_BY_ID.keys()].indexOf(f.ruleId);
  return [...configFindings(r), ...secretFindings(layers, tree), ...treeFindings(layers, tree, opts)].sort(
    (a, b) => order(a) - order(b),
  );
}
