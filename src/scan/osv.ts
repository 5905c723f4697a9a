/** The OSV record (osv-schema 1.x): the fields Kura reads, validated with zod; everything else is kept as stored. */
import { z } from 'zod';

const Event = z.union([
  z.strictObject({ introduced: z.string() }),
  z.strictObject({ fixed: z.string() }),
  z.strictObject({ last_affected: z.string() }),
  z.strictObject({ limit: z.string() }),
]);

const Range = z.object({
  type: z.enum(['SEMVER', 'ECOSYSTEM', 'GIT']),
  repo: z.string().optional(),
  events: z.array(Event).min(1),
});

const Severity = z.object({ type: z.string(), score: z.string() });

const Affected = z.object({
  package: z.object({ ecosystem: z.string().min(1), name: z.string().min(1), purl: z.string().optional() }).optional(),
  ranges: z.array(Range).optional(),
  versions: z.array(z.string()).optional(),
  severity: z.array(Severity).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export const OsvRecordSchema = z.object({
  schema_version: z.string().optional(),
  id: z.string().min(1),
  modified: z.string(),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  upstream: z.array(z.string()).optional(),
  related: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(Severity).optional(),
  affected: z.array(Affected).optional(),
  references: z.array(z.object({ type: z.string(), url: z.string() })).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvRecord = z.infer<typeof OsvRecordSchema>;
export type OsvAffected = z.infer<typeof Affected>;
export type OsvRange = z.infer<typeof Range>;
export type OsvEvent = z.infer<typeof Event>;

/** Parses one OSV JSON document; the error names the record (or the file) and the first field that is wrong. */
export function parseOsv(text: string, where: string): OsvRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  const r = OsvRecordSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const id = typeof (doc as { id?: unknown })?.id === 'string' ? ` (${(doc as { id: string }).id})` : '';
    throw new Error(`${where}${id}: not an OSV record: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return r.data;
}
