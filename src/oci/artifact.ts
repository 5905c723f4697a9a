import type { Readable } from 'node:stream';
import type { Digest } from './digest.js';

/** The platform of an image, as an index descriptor or an image config states it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  urls?: string[];
}

/** Somewhere blobs of an artifact can be read from, by descriptor. */
export interface BlobReader {
  open(d: Descriptor): Promise<Readable>;
}

/**
 * A manifest or index as found in some medium: its descriptor, its exact bytes, and a reader for
 * what it references (config, layers, child manifests). Immutable.
 */
export interface Artifact {
  descriptor: Descriptor;
  manifest: Buffer;
  blobs: BlobReader;
}

/**
 * What a transfer reports, per blob or manifest: progress is data, the CLI draws it.
 * `skipped`: the sink had it; `mounted`: the registry linked it from another repository.
 */
export interface TransferEvent {
  digest: Digest;
  mediaType: string;
  /** Expected size in bytes. */
  total: number;
  /** Bytes moved so far. */
  complete: number;
  status: 'start' | 'progress' | 'done' | 'skipped' | 'mounted';
}

export interface WriteOptions {
  onProgress?: (e: TransferEvent) => void;
  /** Cancels the write (a sink that cannot be cancelled midway checks it before it starts). */
  signal?: AbortSignal;
}

/** A medium images come from (registry, OCI layout, archive, local store). `ref` is a tag or a digest. */
export interface Source {
  get(ref: string): Promise<Artifact>;
}

/**
 * A medium images go to. Writing copies every referenced blob and child manifest, verified, then
 * names the root `ref` (a tag; a digest writes it untagged where the medium allows).
 */
export interface Sink {
  write(ref: string, artifact: Artifact, opts?: WriteOptions): Promise<Descriptor>;
}

/** Optional ability: list the tags a medium holds. */
export interface TagLister {
  tags(): Promise<string[]>;
}
export function canListTags(x: object): x is TagLister {
  return typeof (x as Partial<TagLister>).tags === 'function';
}

/** Optional ability: remove a tag, or a manifest by digest. */
export interface Deleter {
  delete(ref: string): Promise<void>;
}
export function canDelete(x: object): x is Deleter {
  return typeof (x as Partial<Deleter>).delete === 'function';
}

/** Optional ability: finish writing (archives are written as a whole on close). */
export interface Closer {
  close(): Promise<void>;
}
export function canClose(x: object): x is Closer {
  return typeof (x as Partial<Closer>).close === 'function';
}
