// The manifest page (/ui/r/REPO/m/DIGEST, /t/TAG): an index's platform grid, or an image's layers, history as
// a reconstructed Dockerfile, config, annotations; referrers (signatures, SBOMs) and the raw JSON.
import { SizeBar } from '../chart.js';
import type { Ctx } from '../context.js';
import { bytes, when } from '../format.js';
import { CopyButton, DigestText, Page } from '../layout.js';
import type { ManifestView } from '../manifest-data.js';
import { scanLine } from './vulns.js';

function KeyValues({ entries, empty }: { entries: [string, string][]; empty: string }) {
  if (entries.length === 0) return <p class="muted">{empty}</p>;
  return (
    <dl class="kv">
      {entries.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd class="mono">{v}</dd>
        </>
      ))}
    </dl>
  );
}

function Platforms({ v }: { v: ManifestView }) {
  const images = v.platforms.filter((p) => !p.attestation);
  const attestations = v.platforms.filter((p) => p.attestation);
  const total = v.platforms.reduce((s, p) => s + (p.size ?? 0), 0);
  const row = (p: ManifestView['platforms'][number]) => (
    <tr key={p.digest}>
      <td>{p.platform}</td>
      <td class="num">{p.size === null ? 'not in this repository' : bytes(p.size)}</td>
      <td>
        <a class="mono" href={`/ui/r/${v.repo}/m/${p.digest}`}>
          {p.digest.slice(0, 19)}
        </a>
        <CopyButton value={p.digest} />
      </td>
      <td class="mono">{p.mediaType}</td>
    </tr>
  );
  const head = (
    <thead>
      <tr>
        <th scope="col">Platform</th>
        <th scope="col" class="num">
          Size
        </th>
        <th scope="col">Digest</th>
        <th scope="col">Media type</th>
      </tr>
    </thead>
  );
  return (
    <section aria-labelledby="platforms">
      <h2 id="platforms">{`Platforms (${images.length}), ${bytes(total)} in all`}</h2>
      <table>
        {head}
        <tbody>{images.map(row)}</tbody>
      </table>
      {attestations.length > 0 ? (
        <details>
          <summary>{`Attestations (${attestations.length})`}</summary>
          <table>
            {head}
            <tbody>{attestations.map(row)}</tbody>
          </table>
        </details>
      ) : null}
    </section>
  );
}

function Layers({ v }: { v: ManifestView }) {
  const max = Math.max(1, ...v.layers.map((l) => l.size));
  const total = v.layers.reduce((s, l) => s + l.size, 0);
  return (
    <section aria-labelledby="layers">
      <h2 id="layers">{`Layers (${v.layers.length}), ${bytes(total)} compressed`}</h2>
      {v.layers.length === 0 ? (
        <p>This manifest has no layers.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">Share</th>
              <th scope="col">Digest</th>
              <th scope="col">Media type</th>
            </tr>
          </thead>
          <tbody>
            {v.layers.map((l, i) => (
              <tr key={`${i}`}>
                <td>{i + 1}</td>
                <td class="num">{bytes(l.size)}</td>
                <td>
                  <SizeBar fraction={l.size / max} label={`layer ${i + 1}: ${bytes(l.size)}`} />
                </td>
                <td>
                  <DigestText digest={l.digest} />
                </td>
                <td class="mono">{l.mediaType}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function History({ v }: { v: ManifestView }) {
  return (
    <section aria-labelledby="history">
      <h2 id="history">History, as a Dockerfile</h2>
      {v.history.length === 0 ? (
        <p>The config records no history.</p>
      ) : (
        <pre>
          {v.history.map((h) => `${h.instruction}${h.layer ? `\n    # layer ${bytes(h.layer.size)}` : ''}`).join('\n')}
        </pre>
      )}
    </section>
  );
}

function Config({ v }: { v: ManifestView }) {
  const c = v.config;
  if (!c) {
    return (
      <section aria-labelledby="config">
        <h2 id="config">Config</h2>
        {v.configRaw !== null ? <pre>{v.configRaw}</pre> : <p>The config blob could not be read.</p>}
      </section>
    );
  }
  const cc = c.config ?? {};
  const entries: [string, string][] = [
    ['Platform', [c.os, c.architecture, c.variant].filter(Boolean).join('/')],
    ['Created', c.created ?? 'not recorded'],
    ['Entrypoint', JSON.stringify(cc.Entrypoint ?? null)],
    ['Cmd', JSON.stringify(cc.Cmd ?? null)],
    ['User', cc.User || '(root)'],
    ['Working directory', cc.WorkingDir || '/'],
    ['Ports', Object.keys(cc.ExposedPorts ?? {}).join(', ') || 'none'],
  ];
  return (
    <section aria-labelledby="config">
      <h2 id="config">Config</h2>
      <KeyValues entries={entries} empty="" />
      <h3>Environment</h3>
      <KeyValues entries={(cc.Env ?? []).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)])} empty="None." />
      <h3>Labels</h3>
      <KeyValues entries={Object.entries(cc.Labels ?? {})} empty="None." />
    </section>
  );
}

function Referrers({ v }: { v: ManifestView }) {
  return (
    <section aria-labelledby="referrers">
      <h2 id="referrers">Signatures, SBOMs and other referrers</h2>
      {v.referrers.length === 0 ? (
        <p>No signature, SBOM or attestation refers to this manifest.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Artifact type</th>
              <th scope="col">Digest</th>
              <th scope="col">Pushed</th>
            </tr>
          </thead>
          <tbody>
            {v.referrers.map((r) => (
              <tr key={r.digest}>
                <td class="mono">{r.artifactType ?? 'none'}</td>
                <td>
                  <a class="mono" href={`/ui/r/${v.repo}/m/${r.digest}`}>
                    {r.digest.slice(0, 19)}
                  </a>
                  <CopyButton value={r.digest} />
                </td>
                <td>{when(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function ManifestPage({ ctx, v }: { ctx: Ctx; v: ManifestView }) {
  const { record } = v;
  const here = `/ui/r/${v.repo}/m/${record.digest}`;
  const summary: [string, string][] = [
    ['Digest', record.digest],
    ['Media type', record.mediaType],
    ['Artifact type', record.artifactType ?? 'none'],
    ['Manifest size', bytes(record.size)],
    ['Pushed', when(record.createdAt)],
    ['Tags here', v.tags.join(', ') || 'none (untagged)'],
    ['Pull', `${ctx.host}/${v.repo}@${record.digest}`],
  ];
  return (
    <Page ctx={ctx} title={`${v.repo}@${record.digest.slice(0, 19)}`} section="/ui/repos">
      <nav aria-label="Views" class="pager">
        <a href={`/ui/r/${v.repo}`}>{`All tags of ${v.repo}`}</a>
        {v.kind === 'image' ? (
          <>
            <a href={`${here}/files`}>Files</a>
            <a href={`${here}/diff`}>Compare with another tag</a>
          </>
        ) : null}
        {v.kind !== 'schema1' ? <a href={`${here}/sbom`}>Packages (SBOM)</a> : null}
        {v.kind === 'image' ? <a href={`${here}/vulns`}>{`Vulnerabilities: ${scanLine(v.scan)}`}</a> : null}
      </nav>
      <KeyValues entries={summary} empty="" />
      {v.kind === 'index' ? <Platforms v={v} /> : null}
      {v.kind === 'image' ? (
        <>
          <Layers v={v} />
          <History v={v} />
          <Config v={v} />
        </>
      ) : null}
      <section aria-labelledby="annotations">
        <h2 id="annotations">Annotations</h2>
        <KeyValues entries={Object.entries(v.annotations)} empty="This manifest has no annotations." />
      </section>
      <Referrers v={v} />
      <section aria-labelledby="raw">
        <h2 id="raw">Raw manifest</h2>
        <pre>{v.raw}</pre>
      </section>
    </Page>
  );
}
