/** images.json of the local image store: the image records, read without a lock, changed under a pid lock file. */
import { readFileSync } from 'node:fs';
import { link, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Digest } from '../../oci/digest.js';
import { writeFileAtomic } from '../atomic-file.js';

/** One blob an image holds on disk (manifests included), with its size in bytes. */
export interface StoredBlob {
  digest: Digest;
  size: number;
}

/**
 * One image of the local store. Docker's model: an image has tagged names (RepoTags) and digest
 * references (RepoDigests); it is dangling when it has no tagged name.
 */
export interface ImageRecord {
  /** Digest of the stored manifest (or of the index, when an index was stored whole). */
  digest: Digest;
  mediaType: string;
  /** The config's digest: the image ID, as docker shows it. null for a stored index. */
  configDigest: Digest | null;
  /** Tagged names, `registry/repository:tag`. Empty: the image is dangling. */
  names: string[];
  /** `registry/repository@sha256:…` it was pulled by: the index digest when pulled through an index. */
  repoDigests: string[];
  /** `created` of the config (ISO), null when unknown. */
  created: string | null;
  /** When it was last pulled, loaded, written or tagged (ISO). */
  added: string;
  /** Bytes on disk: every blob below, each counted once. */
  size: number;
  /** Each layer's unpacked size by layer digest (docker's sizes); absent in records written before it was kept. */
  layerSizes?: Record<string, number>;
  labels: Record<string, string>;
  /** `os/arch[/variant]` of the config, null for a stored index. */
  platform: string | null;
  blobs: StoredBlob[];
}

export interface ImageTable {
  version: 1;
  images: ImageRecord[];
}

/** What a table update did: whether to save the table, its result, and what to do once it is saved. */
export interface Change<T> {
  save: boolean;
  result: T;
  after?: () => Promise<void>;
}

/** Whether a process is alive: a lock or temp file of a dead one is stale. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** In-process queue per file, so that one process waits on itself without polling. */
const chains = new Map<string, Promise<unknown>>();

/**
 * `images.json`, read without a lock (a rename makes each version whole) and changed only under
 * `images.lock`: a file created exclusively (link(2) of a written temp file) that holds the owner's pid. A lock whose
 * pid is dead
 * is broken, under a short-lived `images.lock.break` so two breakers cannot remove a fresh lock.
 */
export class ImageTableFile {
  readonly path: string;
  readonly lockPath: string;

  constructor(
    readonly dir: string,
    private readonly lockTimeoutMs = 60_000,
  ) {
    this.path = join(dir, 'images.json');
    this.lockPath = join(dir, 'images.lock');
  }

  /** The current table (empty when the store is new). */
  async read(): Promise<ImageTable> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: [] };
      throw e;
    }
    try {
      const t = JSON.parse(text) as ImageTable;
      if (t.version !== 1 || !Array.isArray(t.images)) throw new Error('unknown version');
      return t;
    } catch (e) {
      throw new Error(
        `${this.path} is not a Kura image table (${(e as Error).message}); move it away to start an empty store`,
      );
    }
  }

  /**
   * Reads, lets `fn` change the table, writes it if `fn` says `save`, then runs `after` (deleting
   * blobs: only once no saved table references them); all under the lock.
   */
  async update<T>(fn: (t: ImageTable) => Promise<Change<T>> | Change<T>): Promise<T> {
    const prev = chains.get(this.lockPath) ?? Promise.resolve();
    const run = prev
      .catch(() => undefined)
      .then(async () => {
        await this.lock();
        try {
          const t = await this.read();
          const { save, result, after } = await fn(t);
          if (save) await writeFileAtomic(this.path, JSON.stringify(t, null, 1), { durable: true });
          await after?.();
          return result;
        } finally {
          await rm(this.lockPath, { force: true });
        }
      });
    chains.set(this.lockPath, run);
    try {
      return await run;
    } finally {
      if (chains.get(this.lockPath) === run) chains.delete(this.lockPath);
    }
  }

  private async lock(): Promise<void> {
    const deadline = Date.now() + this.lockTimeoutMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      // The lock appears whole or not at all: written aside, then hard-linked (O_EXCL semantics).
      const tmp = `${this.lockPath}.${process.pid}.${randomUUID()}.tmp`;
      await writeFile(tmp, `${process.pid}\n${randomUUID()}\n`, { flag: 'wx' });
      try {
        await link(tmp, this.lockPath);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        await rm(tmp, { force: true });
      }
      const holder = this.holder();
      if (holder && !pidAlive(holder.pid)) await this.breakLock(holder.text);
      else if (Date.now() > deadline) {
        throw new Error(
          `the image store ${this.dir} is locked by process ${holder?.pid ?? '?'}; wait for it to finish, or delete ` +
            `${this.lockPath} if no kura is running`,
        );
      } else await sleep(wait);
    }
  }

  private holder(): { pid: number; text: string } | undefined {
    try {
      const text = readFileSync(this.lockPath, 'utf8');
      return { pid: Number(text.split('\n')[0]), text };
    } catch {
      return undefined;
    }
  }

  /** Removes a dead process's lock, unless someone else broke it and took the lock meanwhile. */
  private async breakLock(staleText: string): Promise<void> {
    const breaker = `${this.lockPath}.break`;
    try {
      const fh = await open(breaker, 'wx');
      await fh.close();
    } catch {
      // Someone else is breaking it; a breaker left by a crash is old within seconds.
      const s = await stat(breaker).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > 5000) await rm(breaker, { force: true });
      await sleep(10);
      return;
    }
    try {
      if (this.holder()?.text === staleText) await rm(this.lockPath, { force: true });
    } finally {
      await rm(breaker, { force: true });
    }
  }
}
