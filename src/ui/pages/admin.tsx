// Operator pages: usage and quotas (/ui/usage), the audit log (/ui/audit), GC (/ui/gc), retention (/ui/policies).
import type { AuditEvent, UsageReport } from '../../metadata/types.js';
import type { GcResult } from '../../registry/gc.js';
import type { RetentionPlan } from '../../registry/retention-run.js';
import { BarChart } from '../chart.js';
import type { Ctx } from '../context.js';
import { bytes, when } from '../format.js';
import { Csrf, Page } from '../layout.js';

export function UsagePage({ ctx, report }: { ctx: Ctx; report: UsageReport }) {
  const repos = [...report.repositories].sort((a, b) => b.bytes - a.bytes);
  return (
    <Page ctx={ctx} title="Usage" section="/ui/usage">
      <p>{`${bytes(report.total.bytes)} stored in ${report.total.blobs} blobs (each counted once).`}</p>
      <h2>Namespaces</h2>
      {report.namespaces.length === 0 ? (
        <p>No namespace holds data yet.</p>
      ) : (
        <BarChart
          label="Bytes per namespace"
          bars={report.namespaces.map((n) => ({ label: n.name, value: n.bytes, text: bytes(n.bytes) }))}
        />
      )}
      <h2>Repositories</h2>
      {repos.length === 0 ? (
        <p>No repository holds data yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Repository</th>
              <th scope="col" class="num">
                Blobs
              </th>
              <th scope="col" class="num">
                Bytes
              </th>
            </tr>
          </thead>
          <tbody>
            {repos.map((r) => (
              <tr key={r.name}>
                <td>
                  <a href={`/ui/r/${r.name}`}>{r.name}</a>
                </td>
                <td class="num">{r.blobs}</td>
                <td class="num">{bytes(r.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

export function AuditPage(props: { ctx: Ctx; events: AuditEvent[]; enabled: boolean; actor: string; repo: string }) {
  const { ctx, events } = props;
  return (
    <Page ctx={ctx} title="Audit log" section="/ui/audit">
      {!props.enabled ? <p>The audit trail is off (audit.enabled: false): nothing new is recorded.</p> : null}
      <form class="bar" method="get" action="/ui/audit" role="search">
        <label>
          Who
          <input name="actor" value={props.actor} />
        </label>
        <label>
          Repository
          <input name="repository" value={props.repo} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {events.length === 0 ? (
        <p>No audit event matches.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">From</th>
              <th scope="col">What</th>
              <th scope="col">Repository</th>
              <th scope="col">Reference</th>
              <th scope="col" class="num">
                Status
              </th>
            </tr>
          </thead>
          <tbody>
            {events.map((e, i) => (
              <tr key={i}>
                <td>{when(e.at)}</td>
                <td>{e.actor ?? 'anonymous'}</td>
                <td class="mono">{e.address}</td>
                <td>{e.action}</td>
                <td>{e.repository ?? '—'}</td>
                <td class="mono">{e.reference ?? '—'}</td>
                <td class="num">{e.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

export function GcPage({ ctx, result }: { ctx: Ctx; result: GcResult | null }) {
  return (
    <Page ctx={ctx} title="Garbage collection" section="/ui/gc">
      <p>
        Kura keeps no history of collections; the background job logs each run. A dry run lists what a collection would
        delete now.
      </p>
      <form class="bar" method="post" action="/ui/gc">
        <Csrf ctx={ctx} />
        <button type="submit" name="dryRun" value="1">
          Dry run
        </button>
        {ctx.viewer.admin ? (
          <button type="submit" name="dryRun" value="0" class="danger">
            Collect now
          </button>
        ) : null}
      </form>
      {result ? (
        <section aria-labelledby="gc-result">
          <h2 id="gc-result">{result.dryRun ? 'Dry run' : 'Collected'}</h2>
          <p>
            {`${result.blobs.length} unreferenced blobs, ${bytes(result.bytes)}` +
              `${result.dryRun ? ' would be deleted' : ' deleted'}; ` +
              `${result.kept.length} kept within the grace period.`}
          </p>
        </section>
      ) : null}
    </Page>
  );
}

export function PoliciesPage({ ctx, plan }: { ctx: Ctx; plan: RetentionPlan }) {
  return (
    <Page ctx={ctx} title="Retention" section="/ui/policies">
      <p>{`The configured retention rules, applied now over ${plan.repositories} repositories, would:`}</p>
      {plan.actions.length === 0 ? (
        <p>Remove nothing.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Repository</th>
              <th scope="col">Removes</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {plan.actions.map((a, i) => (
              <tr key={i}>
                <td>{a.repo}</td>
                <td class="mono">
                  {a.kind === 'tag' ? `tag ${a.tag}` : `manifest ${a.digest} (tags: ${a.tags.join(', ') || 'none'})`}
                </td>
                <td>{a.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ctx.viewer.admin && plan.actions.length > 0 ? (
        <form method="post" action="/ui/policies/apply">
          <Csrf ctx={ctx} />
          <button type="submit" class="danger">
            Apply this plan…
          </button>
        </form>
      ) : null}
    </Page>
  );
}
