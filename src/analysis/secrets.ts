import { posix } from 'node:path';
import type { LayerScanner } from './image-index.js';
import type { IndexEntry } from './layer-index.js';

/**
 * Secrets in files, found while a layer streams past (each layer once; a secret a later layer deletes
 * is still found, since every layer is scanned, not the final tree). A finding names the kind, the
 * path and the line; it never carries the secret itself.
 */

export interface SecretHit {
  /** `private-key`, `aws-access-key-id`, `github-token`, … (docs/analysis.md lists them). */
  kind: string;
  path: string;
  /** 1-based line of the match (0 when the file as a whole is the finding). */
  line: number;
}

interface ContentRule {
  kind: string;
  re: RegExp;
  /** Only files whose path passes this test. */
  path?: (p: string, base: string) => boolean;
  /** A cheap substring that must occur before the regex runs. */
  key: string;
  /** Rejects a match (placeholders such as ${NPM_TOKEN}). */
  reject?: (m: RegExpExecArray) => boolean;
}

const SECRET_NAME = /(?:SECRET|TOKEN|PASSW(?:OR)?D|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)/i;
const placeholder = (v: string) =>
  /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$|^<.*>$|^(?:changeme|xxx+|\*+|)$/i.test(v.trim().replace(/^["']|["']$/g, ''));

const RULES: ContentRule[] = [
  // The marker alone is not a key (libraries name it in their code): a base64 body must follow (after any PEM headers;
  // `\\n` as JSON writes it).
  {
    kind: 'private-key',
    key: 'PRIVATE KEY',
    re: new RegExp(
      '-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\\\n|\\s)+' +
        '(?:[A-Za-z-]+: [^\\n]*(?:\\\\n|\\s)+)*[A-Za-z0-9+/=]{40}',
      'g',
    ),
  },
  { kind: 'aws-access-key-id', key: '', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  {
    kind: 'aws-secret-access-key',
    key: '',
    re: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/gi,
  },
  {
    kind: 'gcp-service-account-key',
    key: 'service_account',
    re: /"type"\s*:\s*"service_account"[\s\S]{0,4000}?"private_key"\s*:\s*"-----BEGIN/g,
  },
  { kind: 'github-token', key: '', re: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{82}\b/g },
  { kind: 'gitlab-token', key: 'glpat-', re: /\bglpat-[A-Za-z0-9_-]{20}\b/g },
  { kind: 'npm-token', key: 'npm_', re: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { kind: 'pypi-token', key: 'pypi-', re: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/g },
  { kind: 'slack-token', key: 'xox', re: /\bxox[baprs]-[A-Za-z0-9-]{10,}/g },
  {
    kind: 'npmrc-auth-token',
    key: '_auth',
    path: (_p, b) => b === '.npmrc',
    re: /_auth(?:Token)?\s*=\s*(\S+)/g,
    reject: (m) => placeholder(m[1]!),
  },
  {
    kind: 'git-credentials',
    key: '@',
    path: (_p, b) => b === '.git-credentials',
    re: /\bhttps?:\/\/[^:\s/]+:[^@\s]+@/g,
  },
  {
    kind: 'dotenv-secret',
    key: '=',
    path: (_p, b) => b === '.env' || (b.startsWith('.env.') && !/\.(?:example|sample|template|dist)$/.test(b)),
    re: /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.+)$/gm,
    reject: (m) => !SECRET_NAME.test(m[1]!) || placeholder(m[2]!),
  },
  {
    kind: 'kubeconfig-credentials',
    key: 'Config',
    re: /^kind:\s*Config\b[\s\S]*?^\s*(?:client-key-data|token|password):[ \t]*\S/gm,
  },
  {
    kind: 'pypirc-password',
    key: 'password',
    path: (_p, b) => b === '.pypirc',
    re: /^[ \t]*password[ \t]*[:=][ \t]*(\S+)/gm,
    reject: (m) => placeholder(m[1]!),
  },
  {
    kind: 'docker-config-auth',
    key: '"auth"',
    path: (p) => p.endsWith('.docker/config.json'),
    re: /"auth"\s*:\s*"[A-Za-z0-9+/=]{8,}"/g,
  },
];

/** Files whose name alone is the finding (a key file, whatever its encoding). */
const KEY_FILES = new Set(['id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519']);

/** Files larger than this are not read for secrets (keys, tokens and config files are small). */
export const SECRET_MAX_FILE = 1 << 20;

const lineAt = (text: string, index: number) => {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) n++;
  return n;
};

/** The secrets in one file's content. */
export function findSecrets(path: string, data: Buffer): SecretHit[] {
  const base = posix.basename(path);
  const text = data.toString('latin1');
  const out: SecretHit[] = [];
  for (const r of RULES) {
    if (r.path && !r.path(path, base)) continue;
    if (!text.includes(r.key)) continue;
    r.re.lastIndex = 0;
    for (let m = r.re.exec(text); m; m = r.re.exec(text)) {
      if (m[0] === '') r.re.lastIndex++;
      else if (!r.reject?.(m)) out.push({ kind: r.kind, path, line: lineAt(text, m.index) });
    }
  }
  // A .env line a specific rule already named is one finding, not two.
  const specific = new Set(out.filter((h) => h.kind !== 'dotenv-secret').map((h) => h.line));
  const deduped = out.filter((h) => h.kind !== 'dotenv-secret' || !specific.has(h.line));
  out.length = 0;
  out.push(...deduped);
  if (KEY_FILES.has(base) && !out.some((h) => h.kind === 'private-key'))
    out.push({ kind: 'ssh-private-key-file', path, line: 0 });
  return out;
}

/** The scanner run over every layer's files (up to SECRET_MAX_FILE bytes each). */
export const secretScanner: LayerScanner<SecretHit> = {
  id: 'secrets/2',
  wants: (e: IndexEntry) => e.type === 'file' && e.size > 0 && e.size <= SECRET_MAX_FILE,
  scan: (e, data) => findSecrets(e.path, data),
};

/** Secret-looking values in `KEY=VALUE` pairs (image ENV, build ARGs in history): the names, never the values. */
export function secretAssignments(pairs: string[]): { name: string; kind: string }[] {
  const out: { name: string; kind: string }[] = [];
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) continue;
    const name = kv.slice(0, eq);
    const value = kv.slice(eq + 1);
    if (placeholder(value)) continue;
    const token = findSecrets('', Buffer.from(value)).find((h) => h.kind !== 'ssh-private-key-file');
    if (token) out.push({ name, kind: token.kind });
    else if (SECRET_NAME.test(name) && !/^(?:true|false|yes|no|on|off|\d{1,5}|\/.*|https?:\/\/[^@]*)$/i.test(value))
      out.push({ name, kind: 'secret-named-variable' });
  }
  return out;
}
