/** One replication rule as the Replicator runs it: its matchers, the other registry, its credentials. */
import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';

interface Remote {
  url: string;
  credentialsFile?: string;
  credentialsEnv?: string;
  tlsVerify: boolean;
  caFile?: string;
}

/** One rule as the configuration gives it (durations in ms): a push rule has `to`, a pull rule `from`. */
export interface ReplicationRule {
  name: string;
  repositories: string[];
  tags?: string[];
  to?: Remote & { prefix?: string };
  from?: Remote;
  into?: string;
  prune?: boolean;
  onPush: boolean;
  schedule: number;
}

export interface RunSummary {
  trigger: string;
  startedAt: string;
  finishedAt: string;
  copied: number;
  unchanged: number;
  /** Local tags a pull rule with `prune` deleted. */
  pruned: number;
  failed: number;
  errors: { source: string; error: string }[];
}

/** What the admin API shows of a rule (never its credentials). */
export interface RuleStatus {
  name: string;
  to: string | null;
  from: string | null;
  repositories: string[];
  tags: string[] | null;
  onPush: boolean;
  scheduleMs: number;
  running: boolean;
  runs: number;
  last: RunSummary | null;
}

/** USER:PASSWORD from a file's first line or an environment variable, read at start. */
function credentials(rule: string, side: string, r: Remote): { username: string; password: string } | undefined {
  const { credentialsFile: file, credentialsEnv: env } = r;
  if (!file && !env) return undefined;
  let text: string | undefined;
  if (file) {
    try {
      text = readFileSync(file, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new Error(
        `replication rule "${rule}": cannot read ${side}.credentialsFile ${file} (${(e as Error).message})`,
      );
    }
  } else text = process.env[env!];
  const where = file ? `${side}.credentialsFile ${file}` : `environment variable ${env}`;
  const i = text?.indexOf(':') ?? -1;
  if (!text || i <= 0 || i === text.length - 1)
    throw new Error(`replication rule "${rule}": ${where} must hold USER:PASSWORD`);
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

export class Rule {
  readonly repo: (s: string) => boolean;
  readonly tag: RegExp | undefined;
  /** The other registry's origin. */
  readonly remote: URL;
  readonly side: 'to' | 'from';
  readonly creds: { username: string; password: string } | undefined;
  running: Promise<void> | null = null;
  /** Work pushed while a run was going (undefined: none; null: a whole run is due). */
  pending: Set<string> | null | undefined;
  runs = 0;
  last: RunSummary | null = null;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly r: ReplicationRule) {
    this.repo = picomatch(r.repositories, { dot: true });
    this.tag = r.tags ? picomatch.makeRe(r.tags.length === 1 ? r.tags[0]! : `{${r.tags.join(',')}}`) : undefined;
    this.side = r.from ? 'from' : 'to';
    const remote = (r.from ?? r.to)!;
    const side = this.side;
    try {
      this.remote = new URL(remote.url);
    } catch {
      throw new Error(
        `replication rule "${r.name}": ${side}.url "${remote.url}" is not a URL; write it like https://host:5000`,
      );
    }
    if ((this.remote.protocol !== 'http:' && this.remote.protocol !== 'https:') || this.remote.pathname !== '/')
      throw new Error(
        `replication rule "${r.name}": ${side}.url is an http(s) origin only; ` +
          (side === 'to' ? 'put a path in to.prefix' : 'name the repositories in repositories'),
      );
    if (this.remote.username || this.remote.password)
      throw new Error(
        `replication rule "${r.name}": put credentials in ${side}.credentialsFile or ${side}.credentialsEnv`,
      );
    this.creds = credentials(r.name, side, remote);
  }

  /** The remote's access for the sync engine and its location options. */
  access(): { credentials?: { username: string; password: string }; tlsVerify: boolean } {
    return { credentials: this.creds, tlsVerify: (this.r.from ?? this.r.to)!.tlsVerify };
  }

  location(): { plainHttp: boolean; caFile?: string } {
    const caFile = (this.r.from ?? this.r.to)!.caFile;
    return { plainHttp: this.remote.protocol === 'http:', ...(caFile ? { caFile } : {}) };
  }

  status(): RuleStatus {
    const where = `${this.remote.origin}${this.r.to?.prefix ? `/${this.r.to.prefix}` : ''}`;
    return {
      name: this.r.name,
      to: this.side === 'to' ? where : null,
      from: this.side === 'from' ? where : null,
      repositories: this.r.repositories,
      tags: this.r.tags ?? null,
      onPush: this.r.onPush,
      scheduleMs: this.r.schedule,
      running: this.running !== null,
      runs: this.runs,
      last: this.last,
    };
  }
}
