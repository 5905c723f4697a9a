/** Per-registry TLS files: certs.d CA certificates and client certificates, and --ca-file. */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Trust and client identity for one registry: extra CA certificates, a client certificate and key. */
export interface TlsFiles {
  /** PEM CA files, trusted in addition to the system's. */
  ca: string[];
  cert?: string;
  key?: string;
}

/**
 * Where per-registry TLS files are looked for, first match per file kind wins: `KURA_CERTS_D`
 * (colon-separated directories) when set, else podman's `$XDG_CONFIG_HOME/containers/certs.d` and
 * `/etc/containers/certs.d`, then docker's `/etc/docker/certs.d`.
 */
export function certsDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.KURA_CERTS_D !== undefined) return env.KURA_CERTS_D.split(':').filter(Boolean);
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return [join(config, 'containers', 'certs.d'), '/etc/containers/certs.d', '/etc/docker/certs.d'];
}

/**
 * The TLS files for `registry` (host[:port]), as docker and podman read them from `certs.d/HOST[:PORT]/`:
 * `*.crt` are CA certificates, `NAME.cert` with `NAME.key` a client certificate. `caFile` (--ca-file)
 * is added to the CAs. Undefined when there is nothing.
 */
export function tlsFilesFor(registry: string, o: { caFile?: string; dirs?: string[] } = {}): TlsFiles | undefined {
  const out: TlsFiles = { ca: o.caFile ? [o.caFile] : [] };
  for (const base of o.dirs ?? certsDirs()) {
    const dir = join(base, registry);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    out.ca.push(...names.filter((n) => n.endsWith('.crt')).map((n) => join(dir, n)));
    const cert = names.find((n) => n.endsWith('.cert') && names.includes(n.replace(/\.cert$/, '.key')));
    if (cert && !out.cert) {
      out.cert = join(dir, cert);
      out.key = join(dir, cert.replace(/\.cert$/, '.key'));
    }
    // Like docker, the first directory that has the host decides.
    break;
  }
  return out.ca.length || out.cert ? out : undefined;
}

/** The PEM contents for Node's TLS options. */
export function readTlsFiles(f: TlsFiles): { ca: string[]; cert?: Buffer; key?: Buffer } {
  const read = (p: string) => {
    try {
      return readFileSync(p);
    } catch (e) {
      throw new Error(`cannot read the TLS file ${p}: ${(e as Error).message}`);
    }
  };
  return {
    ca: f.ca.map((p) => read(p).toString('utf8')),
    ...(f.cert && f.key ? { cert: read(f.cert), key: read(f.key) } : {}),
  };
}
