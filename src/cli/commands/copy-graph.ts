import type { Artifact } from '../../oci/artifact.js';
import { formatImageReference } from '../../oci/imageref.js';
import type { Location } from '../../transports/locations.js';
import { RegistryNetworkError } from '../../transports/registry/http.js';
import type { GraphStore } from '../../signing/store.js';
import { graphStoreOf } from '../graph-store.js';

/** cosign and referrers-tag-schema tags: copied as tags by `--all-tags`, not followed as images. */
const ATTACHED_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

/**
 * `copy --policy FILE`: the source image must satisfy the containers policy.json before anything is
 * copied (what skopeo copy --policy does).
 */
export async function checkCopyPolicy(from: Location, ref: string, file: string): Promise<void> {
  if (ATTACHED_TAG.test(ref)) return;
  const store = graphStoreOf(from, { archives: true });
  if (!store)
    throw new Error(`--policy needs a source in a registry, an OCI layout or an oci-archive, not ${from.display}`);
  const { loadPolicy, evaluatePolicy } = await import('../../signing/policy.js');
  const image =
    from.image &&
    (ref === from.ref ? from.image : { registry: from.image.registry, repository: from.image.repository, tag: ref });
  const reference = image ? formatImageReference(image) : from.display;
  const v = await evaluatePolicy(await loadPolicy(file), store, ref, reference, from.transport);
  if (!v.accepted) throw new Error(`${v.reason}; not copied`);
}

/** How many signatures, attestations and referrers hang off an image in `src` (cosign tags and referrers). */
export async function attachedCount(src: GraphStore, image: Artifact): Promise<number> {
  const { discoverGraph, graphNodes } = await import('../../signing/graph.js');
  return graphNodes(await discoverGraph(src, image)).filter((n) => n.via === 'tag' || n.via === 'referrers').length;
}

/**
 * After an image is copied: its signatures, attestations, SBOMs and other referrers (cosign tags and
 * OCI referrers, of the root and every index child, recursively) go too, when both media can hold
 * them (registries, OCI layouts and oci-archives). Reports a line on stderr, or NDJSON events with `json`.
 */
export async function copyAttached(
  from: Location,
  to: Location,
  written: Artifact,
  tag: string | undefined,
  out: { json?: boolean; quiet?: boolean },
): Promise<void> {
  if (tag && ATTACHED_TAG.test(tag)) return;
  const src = graphStoreOf(from, { archives: true });
  const dst = graphStoreOf(to, { archives: true });
  if (!src) return;
  if (!dst) {
    // The destination cannot hold the graph (a docker-archive, the local store): say what stays behind.
    const left = await attachedCount(src, written);
    if (left && !out.quiet)
      process.stderr.write(
        `kura: warning: ${to.display} cannot hold the ${left} signature(s), attestation(s) or referrer(s) attached ` +
          `to ${written.descriptor.digest}; they were not copied (copy to oci-archive:FILE, oci:DIR or a registry ` +
          `to keep them, or --no-referrers to leave them)\n`,
      );
    return;
  }
  const { copyGraph } = await import('../../signing/graph.js');
  let copied;
  try {
    ({ copied } = await copyGraph(src, dst, written));
  } catch (e) {
    // A mirror holds the image but not its attachments, and Docker Hub cannot be reached: the image
    // is copied; say what could not be looked for instead of failing the whole copy.
    if (!(e instanceof RegistryNetworkError)) throw e;
    if (!out.quiet)
      process.stderr.write(
        `kura: warning: could not look for signatures, attestations and referrers of ${written.descriptor.digest}: ` +
          `${e.message}; the image was copied without them\n`,
      );
    return;
  }
  if (out.json) for (const c of copied) process.stdout.write(JSON.stringify({ event: 'attached', ...c }) + '\n');
  else if (copied.length && !out.quiet) {
    const counts = new Map<string, number>();
    for (const c of copied) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
    // Kinds in a fixed order (the graph is walked concurrently, so the order found varies from run to run).
    const rank = (k: string) => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
    const kinds = [...counts].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
    process.stderr.write(
      `kura: also copied ${kinds.map(([k, n]) => `${n} ${k}${n > 1 ? 's' : ''}`).join(', ')} attached to ` +
        `${written.descriptor.digest}${tag ? ` (${tag})` : ''}\n`,
    );
  }
}

/** The order in which the copied attachments are counted: the known kinds first, then any other by name. */
const KIND_ORDER = ['signature', 'attestation', 'sbom'];
