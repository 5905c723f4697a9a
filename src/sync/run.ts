/**
 * The sync engine: expands sources into images, compares digests (HEAD on both sides), copies what
 * changed a few images at once with their signatures and referrers, and counts the outcome.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact, Platform, Sink, Source, TagLister } from '../oci/artifact.js';
import type { GraphStore } from '../signing/store.js';
import { isIndex, resolvePlatform } from '../oci/image.js';
import { hostPlatform } from '../oci/platform.js';
import { readWith } from '../transports/copy-image.js';
import { openLocation, type Location, type LocationOptions } from '../transports/locations.js';
import { OciLayout } from '../transports/layout/index.js';
import { isLoopback } from '../transports/registry/mirrors.js';
import { RegistryRepository } from '../transports/registry/repository.js';
import { destinationName, destinationOf, selectRefs, sourceName, type SyncDestination, type SyncItem } from './plan.js';
import type { SourceAccess, SyncSource } from './sources.js';

export type SyncStatus = 'copied' | 'unchanged' | 'failed' | 'would-copy';

/** What happened to one image. */
export interface SyncEvent {
  status: SyncStatus;
  source: string;
  destination: string;
  /** The digest written (or found unchanged, or that would be written). */
  digest?: string;
  /** Signatures, attestations and referrers copied along. */
  attached?: number;
  error?: string;
}

export interface SyncOptions {
  /** `--scoped`: the destination keeps the whole source path. */
  scoped?: boolean;
  /** skopeo's `--all`: every platform of an index; otherwise only `platform`'s image (skopeo's default). */
  all?: boolean;
  /** The platform picked from an index without `all` (default this machine's). */
  platform?: Platform;
  dryRun?: boolean;
  /** Go on after a failure, and fail at the end; otherwise no new image is started after one fails. */
  keepGoing?: boolean;
  /** Images copied at once (default 4). */
  parallel?: number;
  /** Tries of a failed image copy after the first (skopeo's --retry-times; default 0). */
  retryTimes?: number;
  /** Copy signatures, attestations and other referrers along (default true). */
  signatures?: boolean;
  /** How the destination registry is reached. */
  dest?: SourceAccess;
  /** Other location options for both sides (caFile, plainHttp, signal, …). */
  location?: Omit<LocationOptions, 'forWriting' | 'credentials' | 'insecure'>;
  onEvent?: (e: SyncEvent) => void;
  /** Opens a repository itself instead of as a registry address (replication reads its own registry in-process). */
  open?: (registry: string, repository: string) => SyncMedium | undefined;
}

/** A repository a caller opens itself (`open`): read, written, its tags listed, its graph (signatures) reachable. */
export interface SyncMedium extends Source, Sink, TagLister {
  graph(): GraphStore;
}

export interface SyncSummary {
  copied: number;
  unchanged: number;
  failed: number;
  /** Images a dry run would copy. */
  wouldCopy: number;
  /** Images not tried because an earlier one failed (without keepGoing). */
  skipped: number;
  events: SyncEvent[];
}

/** The location options of one side: tls-verify false accepts unverified certificates (loopback stays plain HTTP). */
function accessOptions(registry: string, a: SourceAccess | undefined, o: SyncOptions): LocationOptions {
  // A loopback registry said to be HTTPS (plainHttp false) takes tls-verify false too.
  const insecure = a?.tlsVerify === false && (!isLoopback(registry) || o.location?.plainHttp === false);
  return { ...o.location, credentials: a?.credentials, insecure };
}

type Opened = Location<Source & Sink>;

/** The locations a sync opens, one per repository (so a token flow is done once per repository). */
class Locations {
  private readonly cache = new Map<string, Promise<Opened>>();
  constructor(private readonly o: SyncOptions) {}

  source(s: SyncSource): Promise<Opened> {
    const key = `src ${s.registry}/${s.repository}`;
    const own = this.own(s.registry, s.repository);
    if (own) return this.get(key, async () => own);
    return this.get(key, () =>
      openLocation(`docker://${s.registry}/${s.repository}`, accessOptions(s.registry, s.access, this.o)),
    );
  }

  destination(to: SyncItem['to']): Promise<Opened> {
    if (to.transport === 'oci') return this.get(`oci ${to.dir}`, async () => ({ ...this.layout(to.dir) }));
    const { registry, repository } = to.image;
    const own = this.own(registry, repository);
    if (own) return this.get(`dst ${registry}/${repository}`, async () => own);
    return this.get(`dst ${registry}/${repository}`, () =>
      openLocation(`docker://${registry}/${repository}`, {
        ...accessOptions(registry, this.o.dest, this.o),
        forWriting: true,
      }),
    );
  }

  /** The caller's own medium for a repository, if it opens that one itself. */
  private own(registry: string, repository: string): Opened | undefined {
    const medium = this.o.open?.(registry, repository);
    if (!medium) return undefined;
    const display = `${registry}/${repository}`;
    return { transport: 'docker', ref: 'latest', refDefaulted: true, display, medium };
  }

  private layout(dir: string): Opened {
    return {
      transport: 'oci',
      path: dir,
      ref: 'latest',
      refDefaulted: true,
      display: `oci:${dir}`,
      medium: new OciLayout(dir),
    };
  }

  private readonly chains = new Map<string, Promise<unknown>>();

  /** Runs `fn` after the others of `key` (an OCI layout's index.json takes one writer at a time). */
  exclusive<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (key === undefined) return fn();
    const run = (this.chains.get(key) ?? Promise.resolve()).then(fn, fn);
    this.chains.set(
      key,
      run.catch(() => undefined),
    );
    return run;
  }

  private get(key: string, open: () => Promise<Location>): Promise<Opened> {
    let p = this.cache.get(key);
    if (!p) this.cache.set(key, (p = open() as Promise<Opened>));
    return p;
  }
}

const MISSING = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);

/** The digest `ref` names at a location, or undefined when it names nothing there. */
async function digestAt(loc: Opened, ref: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    if (loc.medium instanceof RegistryRepository) return (await loc.medium.head(ref, { signal })).descriptor.digest;
    if (loc.medium instanceof OciLayout && !existsSync(join(loc.medium.dir, 'index.json'))) return undefined;
    return (await loc.medium.get(ref)).descriptor.digest;
  } catch (e) {
    if (MISSING.has((e as { code?: string }).code ?? '')) return undefined;
    throw e;
  }
}

/** The images of the sources (tags listed where a source names none), each with its destination. */
export async function planSync(
  sources: SyncSource[],
  dest: SyncDestination,
  o: SyncOptions,
  locations = new Locations(o),
): Promise<SyncItem[]> {
  const items: SyncItem[] = [];
  for (const s of sources) {
    const tags = s.refs ? undefined : await ((await locations.source(s)).medium as unknown as TagLister).tags();
    for (const ref of selectRefs(s, tags)) items.push({ source: s, ref, to: destinationOf(s, ref, dest, !!o.scoped) });
  }
  // A tag chosen twice (by a list and a regex, say) is synced once.
  const seen = new Set<string>();
  return items.filter((i) => {
    const key = `${sourceName(i.source, i.ref)} ${destinationName(i.to)}`;
    return !seen.has(key) && !!seen.add(key);
  });
}

/** Syncs the sources to the destination; never throws for one image (its failure is counted). */
export async function runSync(sources: SyncSource[], dest: SyncDestination, o: SyncOptions = {}): Promise<SyncSummary> {
  const locations = new Locations(o);
  const items = await planSync(sources, dest, o, locations);
  const sum: SyncSummary = { copied: 0, unchanged: 0, failed: 0, wouldCopy: 0, skipped: 0, events: [] };
  const queue = [...items];
  let stop = false;
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      if (stop) {
        sum.skipped++;
        continue;
      }
      const e = await syncWithRetries(item, locations, o);
      if (e.status === 'failed') {
        sum.failed++;
        if (!o.keepGoing) stop = true;
      } else if (e.status === 'copied') sum.copied++;
      else if (e.status === 'unchanged') sum.unchanged++;
      else sum.wouldCopy++;
      sum.events.push(e);
      o.onEvent?.(e);
    }
  };
  const n = Math.min(Math.max(1, o.parallel ?? 4), Math.max(1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return sum;
}

async function syncWithRetries(item: SyncItem, locations: Locations, o: SyncOptions): Promise<SyncEvent> {
  const base = { source: sourceName(item.source, item.ref), destination: destinationName(item.to) };
  for (let attempt = 0; ; attempt++) {
    try {
      return { ...base, ...(await syncOne(item, locations, o)) };
    } catch (e) {
      if (attempt >= (o.retryTimes ?? 0) || o.location?.signal?.aborted)
        return { ...base, status: 'failed', error: (e as Error).message };
    }
  }
}

/** One image: unchanged when the destination already has the digest; else read, platform picked, written. */
async function syncOne(
  item: SyncItem,
  locations: Locations,
  o: SyncOptions,
): Promise<Omit<SyncEvent, 'source' | 'destination'>> {
  const signal = o.location?.signal;
  const from = await locations.source(item.source);
  const to = await locations.destination(item.to);
  const destRef = item.to.transport === 'oci' ? item.to.ref : (item.to.image.digest ?? item.to.image.tag!);
  const have = await digestAt(to, destRef, signal);
  const head = await digestAt(from, item.ref, signal);
  if (head === undefined) throw new Error(`${sourceName(item.source, item.ref)}: no such image`);
  if (have === head) return { status: 'unchanged', digest: head };
  const read = await readWith(from.medium, item.ref, signal);
  const artifact = !o.all && isIndex(read) ? await resolvePlatform(read, o.platform ?? hostPlatform()) : read;
  if (have === artifact.descriptor.digest) return { status: 'unchanged', digest: have };
  if (o.dryRun) return { status: 'would-copy', digest: artifact.descriptor.digest };
  return locations.exclusive(item.to.transport === 'oci' ? item.to.dir : undefined, async () => {
    const written = await to.medium.write(destRef, artifact, { signal });
    const attached = o.signatures === false ? 0 : await copyAttached(from, to, artifact);
    return { status: 'copied' as const, digest: written.digest, attached };
  });
}

/** Signatures, attestations and referrers of what was written, when both sides can hold them. */
async function copyAttached(from: Opened, to: Opened, written: Artifact): Promise<number> {
  const { RegistryGraphStore, LayoutGraphStore } = await import('../signing/store.js');
  const { copyGraph } = await import('../signing/graph.js');
  const store = (l: Opened): GraphStore =>
    'graph' in l.medium
      ? (l.medium as SyncMedium).graph()
      : l.medium instanceof RegistryRepository
        ? new RegistryGraphStore(l.medium)
        : new LayoutGraphStore(l.medium as OciLayout);
  return (await copyGraph(store(from), store(to), written)).copied.length;
}
