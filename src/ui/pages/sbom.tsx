// The SBOM page (/ui/r/REPO/m/DIGEST/sbom): the packages of an image as `kura sbom` finds them, computed on demand
// (or "not computed yet").
import type { Sbom } from '../../sbom/model.js';
import type { Ctx } from '../context.js';
import { Page } from '../layout.js';

/** Packages listed at most (the rest counted). */
export const SBOM_ROWS = 2000;

export interface SbomData {
  repo: string;
  digest: string;
  sbom: Sbom | null;
  /** The manifest is an index: the platforms to pick from. */
  children: { digest: string; platform: string }[];
}

export function Back({ repo, digest }: { repo: string; digest: string }) {
  return (
    <p>
      <a href={`/ui/r/${repo}/m/${digest}`}>Back to the manifest</a>
    </p>
  );
}

export function SbomPage({ ctx, d }: { ctx: Ctx; d: SbomData }) {
  const base = `/ui/r/${d.repo}/m/${d.digest}/sbom`;
  const s = d.sbom;
  return (
    <Page ctx={ctx} title={`Packages of ${d.repo}@${d.digest.slice(0, 19)}`} section="/ui/repos">
      <Back repo={d.repo} digest={d.digest} />
      {d.children.length > 0 ? (
        <>
          <p>This is an index: a bill of materials describes one image. Pick a platform:</p>
          <ul>
            {d.children.map((c) => (
              <li key={c.digest}>
                <a href={`/ui/r/${d.repo}/m/${c.digest}/sbom`}>{c.platform}</a>
              </li>
            ))}
          </ul>
        </>
      ) : s === null ? (
        <>
          <p>
            Not computed yet. Kura reads every layer once to find the packages (dpkg, apk, rpm, npm, Python, Go, Java),
            as <code>kura sbom</code> does; the result is kept in memory until the server restarts.
          </p>
          <form method="get" action={base} class="bar">
            <input type="hidden" name="compute" value="1" />
            <button type="submit">Compute the bill of materials</button>
          </form>
        </>
      ) : (
        <>
          <p>
            {`${s.packages.length} packages` +
              (s.distro ? ` on ${s.distro.prettyName ?? `${s.distro.id} ${s.distro.versionId ?? ''}`}` : '') +
              `; platform ${[s.image.platform.os, s.image.platform.architecture, s.image.platform.variant]
                .filter(Boolean)
                .join('/')}.`}
          </p>
          {s.warnings.length > 0 ? (
            <ul>
              {s.warnings.slice(0, 20).map((w, i) => (
                <li key={i} class="warn">
                  {w}
                </li>
              ))}
            </ul>
          ) : null}
          {s.packages.length === 0 ? (
            <p>No package database or manifest was found in this image.</p>
          ) : (
            <table>
              <caption class="skip">Packages</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Version</th>
                  <th scope="col">Type</th>
                  <th scope="col">Licenses</th>
                  <th scope="col">Layer</th>
                </tr>
              </thead>
              <tbody>
                {s.packages.slice(0, SBOM_ROWS).map((p, i) => (
                  <tr key={i}>
                    <td class="mono">{p.name}</td>
                    <td class="mono">{p.version}</td>
                    <td>{p.type}</td>
                    <td>{p.licenses.join(', ')}</td>
                    <td>{p.layer + 1}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {s.packages.length > SBOM_ROWS ? (
            <p>{`${s.packages.length - SBOM_ROWS} more packages are not listed here; use kura sbom.`}</p>
          ) : null}
        </>
      )}
    </Page>
  );
}
