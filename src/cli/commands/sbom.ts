import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import type { ResolvedImage } from '../../analysis/resolve.js';
import type { Artifact, Platform } from '../../oci/artifact.js';
import type { Digest } from '../../oci/digest.js';
import { isIndexMediaType } from '../../oci/mediatypes.js';
import { formatPlatform, isAttestationPlatform } from '../../oci/platform.js';
import { formatArtifactType, isSbomFormat, SBOM_FORMATS, type SbomFormat } from '../../sbom/formats.js';
import { openImage, remoteOptions, type ImageOptions } from '../image-options.js';
import type { Location } from '../../transports/locations.js';
import { collect } from '../options.js';
import { UsageError } from '../errors.js';
import { attester, attestFlags, type AttestFlags } from '../signing-options.js';

interface SbomOpts extends ImageOptions, AttestFlags {
  format: string;
  output: string[];
  allPlatforms?: boolean;
  attach?: boolean;
  fromRegistry?: boolean;
  files?: boolean;
}

/** `-o FILE` (the --format) or `-o FORMAT=FILE`. */
export function parseOutputs(values: string[], format: SbomFormat): { format: SbomFormat; file?: string }[] {
  if (!values.length) return [{ format }];
  return values.map((v) => {
    const i = v.indexOf('=');
    const left = i > 0 ? v.slice(0, i) : '';
    if (i > 0 && isSbomFormat(left)) return { format: left, file: v.slice(i + 1) };
    if (isSbomFormat(v)) return { format: v };
    if (i > 0 && /^[a-z]+-?[a-z]*(@[\d.]+)?$/.test(left))
      throw new UsageError(`-o ${v}: unknown format "${left}"; use one of ${SBOM_FORMATS.join(', ')}`);
    return { format, file: v };
  });
}

/** FILE for one platform of several: `sbom.json` → `sbom.linux-arm64-v8.json`. */
function perPlatform(file: string, tag: string | undefined): string {
  if (!tag) return file;
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.${tag}${ext}`);
}

/** Writes a whole file or nothing: a temp name, then rename. */
async function writeWhole(file: string, data: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new Error(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * The images to describe: the one for --platform (or this machine), or with --all-platforms every runnable image of an
 * index.
 */
async function imagesOf(root: Artifact, opts: SbomOpts, platform: Platform | undefined): Promise<ResolvedImage[]> {
  const { resolveImage } = await import('../../analysis/resolve.js');
  const { openIndex } = await import('../../oci/image.js');
  if (!opts.allPlatforms || !isIndexMediaType(root.descriptor.mediaType)) return [await resolveImage(root, platform)];
  const out: ResolvedImage[] = [];
  for (const d of openIndex(root).manifests) {
    if (!d.platform || isAttestationPlatform(d.platform) || isIndexMediaType(d.mediaType)) continue;
    out.push(await resolveImage(root, d.platform));
  }
  if (!out.length) throw new Error(`${root.descriptor.digest}: the index lists no image with a platform`);
  return out;
}

function imageName(loc: Location): string {
  if (loc.image) return `${loc.image.registry}/${loc.image.repository}${loc.image.tag ? `:${loc.image.tag}` : ''}`;
  return loc.display;
}

/** An SBOM attached to the image: a referrer of the artifact type, else BuildKit's attestation in the index. */
async function fetchAttached(loc: Location, root: Artifact, image: Digest, artifactType: string): Promise<Buffer> {
  const { graphStoreOf } = await import('../graph-store.js');
  const { buildkitSbom, pickSbomReferrer, readSbomArtifact } = await import('../../sbom/artifact.js');
  const store = graphStoreOf(loc);
  if (store) {
    const d = pickSbomReferrer(await store.referrers(image), artifactType);
    if (d) return readSbomArtifact(await store.get(d.digest));
  }
  if (isIndexMediaType(root.descriptor.mediaType)) {
    const doc = await buildkitSbom(root, image, artifactType);
    if (doc) return doc;
  }
  throw new Error(
    `${loc.display}: no ${artifactType} SBOM is attached to ${image}; make one with "kura sbom --attach"`,
  );
}

/** `kura sbom IMAGE`. */
export function registerSbom(program: Command): void {
  const cmd = remoteOptions(
    program
      .command('sbom <image>')
      .description(
        'list the packages of an image (dpkg, apk, rpm, npm, python, Go binaries, Java archives) as an SBOM: SPDX ' +
          '2.3, CycloneDX 1.6/1.5, a table or PURLs',
      )
      .option('--format <format>', `${SBOM_FORMATS.join(', ')}`, 'table')
      .option(
        '-o, --output <[FORMAT=]FILE>',
        'write to FILE instead of standard output (repeatable as FORMAT=FILE)',
        collect,
        [],
      )
      .option('--platform <os/arch[/variant]>', 'the image of an index (default: this machine)')
      .option('--all-platforms', 'one SBOM per image of an index (files get .OS-ARCH[-VARIANT] before their extension)')
      .option('--files', 'list the files each package owns (dpkg .list, apk R: lines; CycloneDX kura:file properties)')
      .option(
        '--attach',
        "push the SBOM (spdx-json or cyclonedx-json) to the image's repository as an OCI 1.1 referrer of the image",
      )
      .option(
        '--from-registry',
        'fetch the SBOM attached to the image (referrer or BuildKit attestation) instead of computing one',
      ),
  );
  attestFlags(cmd, 'the SBOM (spdx-json: --type spdx; cyclonedx-json: --type cyclonedx)').action(
    async (image: string, opts: SbomOpts) => {
      if (!isSbomFormat(opts.format))
        throw new UsageError(`--format ${opts.format} is not known; use one of ${SBOM_FORMATS.join(', ')}`);
      const outputs = parseOutputs(opts.output, opts.format);
      if (opts.attach && opts.fromRegistry)
        throw new UsageError('--attach and --from-registry go separately: one computes and pushes, the other fetches');
      // The formats to attach, each once.
      const attachable = [...new Set(outputs.map((o) => o.format).filter((f) => formatArtifactType(f)))];
      const pushing = opts.attach ? '--attach' : opts.attest ? '--attest' : undefined;
      if (pushing && !attachable.length)
        throw new Error(
          `${pushing} pushes spdx-json or cyclonedx-json; add --format spdx-json (or -o cyclonedx-json=FILE)`,
        );
      if (opts.attest && opts.fromRegistry) throw new UsageError('--attest computes the SBOM; drop --from-registry');
      const { loc, root, platform } = await openImage(image, opts, !pushing && !opts.fromRegistry);
      const attest = await attester(opts, loc);
      // The signing graph store (and its key code) loads only when a command runs, not for --help.
      const { graphStoreOf } = await import('../graph-store.js');
      if (opts.attach && !graphStoreOf(loc))
        throw new Error(
          `${loc.display}: SBOMs are attached in registries and OCI layouts; give docker://REF or oci:DIR[:TAG]`,
        );
      const images = await imagesOf(root, opts, platform);
      const several = images.length > 1;
      for (const r of images) {
        const tag = several
          ? formatPlatform(r.entry?.platform ?? { os: r.config.os, architecture: r.config.architecture }).replace(
              /\//g,
              '-',
            )
          : undefined;
        if (opts.fromRegistry) {
          for (const o of outputs) {
            const type = formatArtifactType(o.format);
            if (!type)
              throw new Error(
                `--from-registry prints the attached document as stored; use --format spdx-json or cyclonedx-json, ` +
                  `not ${o.format}`,
              );
            const doc = (await fetchAttached(loc, root, r.image.descriptor.digest as Digest, type)).toString('utf8');
            const text = doc.endsWith('\n') ? doc : doc + '\n';
            if (o.file) await writeWhole(perPlatform(o.file, tag), text);
            else process.stdout.write(text);
          }
          continue;
        }
        const { catalogImage } = await import('../../sbom/catalog.js');
        const sbom = await catalogImage(r, { files: opts.files, name: imageName(loc) });
        for (const w of sbom.warnings) process.stderr.write(`kura: warning: ${w}\n`);
        // Each format is rendered once: what is printed or written is exactly what is attached.
        const rendered = new Map<SbomFormat, string>();
        const { renderSbom } = await import('../../sbom/render.js');
        const render = (f: SbomFormat) => rendered.get(f) ?? rendered.set(f, renderSbom(sbom, f)).get(f)!;
        for (const o of outputs) {
          const text = render(o.format);
          if (o.file) await writeWhole(perPlatform(o.file, tag), text);
          else process.stdout.write(text);
        }
        if (opts.attach) {
          const store = graphStoreOf(loc)!;
          const { sbomArtifact } = await import('../../sbom/artifact.js');
          for (const f of attachable) {
            const a = sbomArtifact(Buffer.from(render(f)), formatArtifactType(f)!, r.image.descriptor);
            await store.putReferrer(a, r.image.descriptor.digest as Digest);
            process.stderr.write(`attached ${f} ${a.descriptor.digest} to ${r.image.descriptor.digest}\n`);
          }
        }
        for (const f of attest ? attachable : [])
          await attest!(r.image.descriptor.digest, f === 'spdx-json' ? 'spdx' : 'cyclonedx', JSON.parse(render(f)));
      }
    },
  );
}
