// The dashboard (/ui): repositories the viewer can see, storage (admins), the largest repositories, recent activity.
import type { AuditEvent, UsageReport } from '../../metadata/types.js';
import { BarChart } from '../chart.js';
import type { Ctx } from '../context.js';
import { bytes, when } from '../format.js';
import { Page } from '../layout.js';

export interface DashboardData {
  repositories: number;
  /** Present for viewers who may see usage. */
  usage: UsageReport | null;
  /** Recent audit events (viewers who may see the audit trail, with audit on), newest first. */
  recent: AuditEvent[] | null;
}

export function Dashboard({ ctx, data }: { ctx: Ctx; data: DashboardData }) {
  const { usage } = data;
  const logical = usage?.repositories.reduce((s, r) => s + r.bytes, 0) ?? 0;
  const top = usage ? [...usage.repositories].sort((a, b) => b.bytes - a.bytes).slice(0, 10) : [];
  return (
    <Page ctx={ctx} title="Dashboard" section="/ui">
      <section aria-labelledby="totals" class="cards">
        <h2 id="totals" class="skip">
          Totals
        </h2>
        <div class="card">
          <b>{data.repositories}</b>
          <a href="/ui/repos">repositories</a>
        </div>
        {usage ? (
          <>
            <div class="card">
              <b>{bytes(usage.total.bytes)}</b>stored ({usage.total.blobs} blobs, each once)
            </div>
            <div class="card">
              <b>{bytes(logical)}</b>summed over repositories
            </div>
          </>
        ) : null}
      </section>
      {usage ? (
        <section aria-labelledby="largest">
          <h2 id="largest">Largest repositories</h2>
          {top.length > 0 ? (
            <BarChart
              label="Largest repositories by stored bytes"
              bars={top.map((r) => ({ label: r.name, value: r.bytes, text: bytes(r.bytes) }))}
            />
          ) : (
            <p>No repositories hold any data yet.</p>
          )}
        </section>
      ) : (
        <p class="muted">Storage figures are shown to administrators.</p>
      )}
      {data.recent ? (
        <section aria-labelledby="recent">
          <h2 id="recent">Recent activity</h2>
          {data.recent.length === 0 ? (
            <p>No activity recorded yet.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Repository</th>
                  <th scope="col">Reference</th>
                </tr>
              </thead>
              <tbody>
                {data.recent.map((e, i) => (
                  <tr key={i}>
                    <td>{when(e.at)}</td>
                    <td>{e.actor ?? 'anonymous'}</td>
                    <td>{`${e.action} (${e.status})`}</td>
                    <td>{e.repository ? <a href={`/ui/r/${e.repository}`}>{e.repository}</a> : '—'}</td>
                    <td class="mono">{e.reference ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </Page>
  );
}
