import type { Readable } from 'node:stream';
import type { Digest } from './digest.js';

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string; 'os.version'?: string };
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

/** A medium images come from (registry, OCI layout, archive). */
export interface Source {
  get(tag: string): Promise<Artifact>;
}

/** A medium images go to. Writing copies every referenced blob and child manifest, verified. */
export interface Sink {
  write(tag: string, artifact: Artifact): Promise<Descriptor>;
}
