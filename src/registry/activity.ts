/**
 * What requests leave behind besides content: the audit trail and pull times. Both are buffered in
 * memory and written in batches, so a request never waits for a metadata write.
 */
import type { AuditEvent, MetadataStore } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';

export class Activity {
  /** Audit events not yet written: flushed in batches by flushAudit(). */
  private auditBuffer: AuditEvent[] = [];
  /** Manifest pulls not yet written (`repo\0digest` → time): flushed in batches by flushPulls(). */
  private pulls = new Map<string, { repo: string; digest: Digest; at: number }>();

  constructor(private readonly meta: MetadataStore) {}

  /** Records an audit event; written in the next batch (a request never waits for it). */
  audit(event: AuditEvent): void {
    this.auditBuffer.push(event);
    if (this.auditBuffer.length >= 10_000) void this.flushAudit();
  }

  async flushAudit(): Promise<void> {
    if (this.auditBuffer.length === 0) return;
    const batch = this.auditBuffer;
    this.auditBuffer = [];
    await this.meta.audit.append(batch);
  }

  async listAudit(q: { since?: number; actor?: string; repository?: string; limit: number }): Promise<AuditEvent[]> {
    await this.flushAudit();
    return this.meta.audit.list(q);
  }

  /** Drops audit events older than `before` (ms since the epoch). */
  async purgeAudit(before: number): Promise<void> {
    await this.meta.audit.purge(before);
  }

  pulled(repo: string, digest: Digest, at: number): void {
    this.pulls.set(`${repo}\0${digest}`, { repo, digest, at });
  }

  /** Writes the pulls recorded in memory since the last flush (one transaction). */
  async flushPulls(): Promise<void> {
    if (this.pulls.size === 0) return;
    const batch = [...this.pulls.values()];
    this.pulls = new Map();
    await this.meta.manifests.recordPulls(batch);
  }
}
