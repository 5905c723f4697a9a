/** The settings of the scale-out drivers: `storage.s3` (S3 blob storage) and `metadata.postgres`. */
import { z } from 'zod';
import { bool, duration, size } from './values.js';

export const s3Schema = z
  .object({
    bucket: z.string().default('').describe('S3 bucket holding blobs and uploads (required with driver s3).'),
    prefix: z.string().default('').describe('Key prefix inside the bucket (blobs/ and uploads/ go under it).'),
    region: z.string().default('us-east-1').describe('Region requests are signed for.'),
    endpoint: z.string().default('').describe('URL of an S3-compatible server (Ceph RGW, MinIO); empty means AWS S3.'),
    forcePathStyle: bool
      .optional()
      .describe('Path-style URLs (http://host/bucket/key); default: on when an endpoint is set.'),
    accessKeyId: z
      .string()
      .default('')
      .describe('Access key; empty means the AWS default chain (AWS_ACCESS_KEY_ID, ~/.aws, instance roles).'),
    secretAccessKey: z
      .string()
      .default('')
      .describe('Secret key (prefer the environment or the AWS chain to a flag); never logged.'),
    partSize: size
      .default(8 * 1024 * 1024)
      .describe('Size of the parts uploads are sent to S3 in (at least 5 MiB, the S3 minimum).'),
  })
  .prefault({});

export const postgresSchema = z
  .object({
    url: z
      .string()
      .optional()
      .describe(
        'PostgreSQL connection string (postgres://USER:PASSWORD@HOST:PORT/DB) for metadata.driver postgres; ' +
          'unset: the standard PG* environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). ' +
          'Never logged.',
      ),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'use lower-case letters, digits and _')
      .optional()
      .describe("Schema holding kura's tables, created if missing; unset: the server's search_path (public)."),
    poolSize: z.coerce
      .number()
      .int()
      .positive()
      .default(10)
      .describe('Connections each kura process keeps open to PostgreSQL.'),
    statementTimeout: duration
      .prefault('30s')
      .describe('Longest a metadata query may run before PostgreSQL cancels it (statement_timeout); 0: none.'),
  })
  .prefault({});
