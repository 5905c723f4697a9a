/** The S3 client and key layout of the S3 blob store: options, client settings for non-AWS servers, errors. */
import { S3Client } from '@aws-sdk/client-s3';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix under which everything lives (no leading or trailing slash needed); '' = bucket root. */
  prefix?: string;
  /** Region to sign for; S3-compatible servers accept us-east-1. */
  region?: string;
  /** Endpoint URL of an S3-compatible server (Ceph RGW, MinIO); unset = AWS. */
  endpoint?: string;
  /** Path-style addressing (http://host/bucket/key), which non-AWS servers need. */
  forcePathStyle?: boolean;
  /** Static credentials; unset = the AWS SDK's default chain (env, shared files, instance roles). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Answer blob GETs with presigned URLs (the HTTP layer redirects to them). */
  redirect?: boolean;
  /** How long a presigned URL stays valid, in seconds (default 20 minutes, as registry:2). */
  redirectExpirySeconds?: number;
  /** Size of the parts a write is sent in (default 8 MiB; at least S3's 5 MiB minimum). */
  partSize?: number;
}

/** S3's smallest part size for every part but the last. */
export const MIN_PART = 5 * 1024 * 1024;
/** Largest range one UploadPartCopy is given here (S3 allows 5 GiB). */
export const MAX_COPY_PART = 1024 * 1024 * 1024;
/** Largest object a single CopyObject may copy. */
export const MAX_COPY_OBJECT = 5 * 1024 * 1024 * 1024;

export function makeClient(opts: S3StoreOptions): S3Client {
  // Kura pins its SDK release (package.json): the SDK's notice that later releases need Node 22 is not
  // the operator's to act on, so it is off unless they set the variable themselves.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: opts.region || 'us-east-1',
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? Boolean(opts.endpoint),
    ...(opts.accessKeyId && opts.secretAccessKey
      ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } }
      : {}),
    // Non-AWS servers (Ceph RGW 16) do not know the flexible checksums newer SDKs send by default.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Keys under one prefix. */
export class Keys {
  private readonly base: string;

  constructor(prefix = '') {
    const p = prefix.replace(/^\/+|\/+$/g, '');
    if (p.split('/').some((s) => s === '.' || s === '..')) throw new Error(`s3: invalid prefix "${prefix}"`);
    this.base = p === '' ? '' : `${p}/`;
  }

  /** `<prefix>/blobs/` */
  get blobs(): string {
    return `${this.base}blobs/`;
  }

  /** `<prefix>/uploads/` */
  get uploads(): string {
    return `${this.base}uploads/`;
  }

  /** Every key this store writes starts with this. */
  get root(): string {
    return this.base;
  }

  blob(alg: string, hex: string): string {
    return `${this.blobs}${alg}/${hex.slice(0, 2)}/${hex}`;
  }

  upload(id: string): string {
    return `${this.uploads}${id}/`;
  }

  /** The marker object that says upload `id` exists (created at its first write). */
  info(id: string): string {
    return `${this.upload(id)}info`;
  }

  /** The object holding the bytes of one write, named by the offset it starts at. */
  segment(id: string, start: number): string {
    return `${this.upload(id)}seg/${String(start).padStart(16, '0')}`;
  }
}

/** True when an SDK error means the object (or upload) is not there. */
export function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    err?.name === 'NotFound' ||
    err?.name === 'NoSuchKey' ||
    err?.name === 'NoSuchUpload' ||
    err?.$metadata?.httpStatusCode === 404
  );
}
