/**
 * Test helper (not a test): a real S3 server for the S3 tests. It uses the one named by KURA_TEST_S3_ENDPOINT
 * (with KURA_TEST_S3_BUCKET, KURA_TEST_S3_ACCESS_KEY, KURA_TEST_S3_SECRET_KEY; `.ci/run` sets them), else, as
 * root, starts Ceph RGW with scripts/services/start-ceph-rgw.sh on free loopback ports, else says why not.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { makeClient } from '../storage/s3/client.js';

export interface S3Service {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/services/start-ceph-rgw.sh');
const HOW =
  'set KURA_TEST_S3_ENDPOINT, KURA_TEST_S3_BUCKET, KURA_TEST_S3_ACCESS_KEY and KURA_TEST_S3_SECRET_KEY, ' +
  'or run as root so that scripts/services/start-ceph-rgw.sh can start Ceph RGW';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

let started: Promise<S3Service | string> | undefined;

/** The S3 server for this test process (started once), or the reason there is none (a skip message). */
export function s3Service(): Promise<S3Service | string> {
  started ??= open();
  return started;
}

async function open(): Promise<S3Service | string> {
  const env = process.env;
  if (env.KURA_TEST_S3_ENDPOINT) {
    return {
      endpoint: env.KURA_TEST_S3_ENDPOINT,
      bucket: env.KURA_TEST_S3_BUCKET || 'kura-test',
      accessKeyId: env.KURA_TEST_S3_ACCESS_KEY ?? '',
      secretAccessKey: env.KURA_TEST_S3_SECRET_KEY ?? '',
      stop: async () => {},
    };
  }
  const why = `no S3 server: ${HOW}`;
  if (process.getuid?.() !== 0 || !existsSync(SCRIPT)) return skipOrFail(why);
  const [rgw, v2, v1] = [await freePort(), await freePort(), await freePort()];
  const out = await new Promise<string | Error>((done) => {
    execFile(
      'bash',
      [SCRIPT],
      {
        env: {
          ...env,
          RGW_PORT: String(rgw),
          MON_V2_PORT: String(v2),
          MON_V1_PORT: String(v1),
          S3_BUCKET: 'kura-test',
        },
        timeout: 240_000,
      },
      (err, stdout, stderr) => done(err ? new Error(`${err.message}\n${stderr.slice(-2000)}`) : stdout),
    );
  });
  if (out instanceof Error) return skipOrFail(`${why} (starting Ceph RGW failed: ${out.message})`);
  const vars = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return {
    endpoint: vars.S3_ENDPOINT!,
    bucket: vars.S3_BUCKET!,
    accessKeyId: vars.AWS_ACCESS_KEY_ID!,
    secretAccessKey: vars.AWS_SECRET_ACCESS_KEY!,
    stop: () =>
      new Promise<void>((done) =>
        execFile('bash', [`${vars.CEPH_RGW_DIR}/stop.sh`], { timeout: 60_000 }, () => done()),
      ),
  };
}

/** In CI the S3 tests must run: there a missing server is an error, elsewhere a skip. */
function skipOrFail(why: string): string {
  if (process.env.CI) throw new Error(`${why} (CI must run the S3 tests)`);
  return why;
}

/** Removes every object under `prefix` (what one test wrote). */
export async function emptyPrefix(svc: S3Service, prefix: string): Promise<void> {
  const s3 = makeClient({ ...svc, forcePathStyle: true });
  try {
    let ContinuationToken: string | undefined;
    do {
      const out = await s3.send(
        new ListObjectsV2Command({ Bucket: svc.bucket, Prefix: `${prefix}/`, ContinuationToken }),
      );
      await Promise.all(
        (out.Contents ?? []).map((o) => s3.send(new DeleteObjectCommand({ Bucket: svc.bucket, Key: o.Key! }))),
      );
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
  } finally {
    s3.destroy();
  }
}
