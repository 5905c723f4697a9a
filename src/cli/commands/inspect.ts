/** `kura inspect`, `kura config` and `kura digest`: what an image is, as docker and skopeo show it. */
import type { Command } from 'commander';
import { isDigest } from '../../oci/digest.js';
import type { ImageReference } from '../../oci/imageref.js';
import type { RegistryRepository } from '../../transports/registry/index.js';
import { locationOptions } from '../options.js';
import { inspectNames, openImage, remoteOptions, storedLayerSizes, type ImageOptions } from '../image-options.js';

/**
 * What a `--format` template sees: docker's struct fields, the ones JSON leaves out included as
 * non-enumerable properties, so `{{.Variant}}` is "" while `{{json .}}` still omits it as docker does.
 */
function templateView(out: Record<string, unknown>): Record<string, unknown> {
  const withDefaults = (o: Record<string, unknown>, defaults: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(defaults))
      if (!Object.hasOwn(o, k)) Object.defineProperty(o, k, { value: v, enumerable: false });
    return o;
  };
  const config = withDefaults(
    { ...(out.Config as Record<string, unknown>) },
    { ExposedPorts: null, Healthcheck: null, ArgsEscaped: false, StopSignal: '', Shell: null },
  );
  return withDefaults({ ...out, Config: config }, { DockerVersion: '', Variant: '', OsVersion: '' });
}

/** `kura inspect LOCATION`: docker image inspect (a JSON array of one), a template, or skopeo's --raw/--config. */
export function registerInspect(program: Command): void {
  remoteOptions(
    program
      .command('inspect <location>')
      .description(
        'show an image as `docker image inspect` does; for an index, the image for this machine (or --platform)',
      )
      .option(
        '-f, --format <template>',
        'Go template, e.g. {{.Architecture}}, {{json .Config.Labels}}; "json" for one JSON line',
      )
      .option('--platform <os/arch[/variant]>', 'the image of an index to inspect (default: this machine)')
      .option('--raw', 'print the manifest (or index) exactly as stored, like skopeo inspect --raw')
      .option('--config', 'print the image config (with --raw: its exact bytes)'),
  ).action(async (location: string, opts: ImageOptions & { format?: string; raw?: boolean; config?: boolean }) => {
    const { loc, root, platform } = await openImage(location, opts);
    if (opts.raw && !opts.config) {
      process.stdout.write(root.manifest);
      return;
    }
    const [{ resolveImage }, { dockerInspect }, { goJson }, { renderTemplate }] = await Promise.all([
      import('../../analysis/resolve.js'),
      import('../../analysis/inspect.js'),
      import('../format/template-funcs.js'),
      import('../format/template.js'),
    ]);
    const r = await resolveImage(root, platform);
    if (opts.config) {
      // The config's own key order, indented.
      process.stdout.write(
        opts.raw ? await r.image.rawConfig() : goJson(r.config, '    ', { html: true, sort: false }) + '\n',
      );
      return;
    }
    const out = dockerInspect(r, await inspectNames(loc, root), await storedLayerSizes(loc));
    if (!opts.format) process.stdout.write(goJson([out], '    ', { html: true }) + '\n');
    else if (opts.format === 'json') process.stdout.write(goJson(out) + '\n');
    else process.stdout.write(renderTemplate(opts.format, templateView(out)) + '\n');
  });
}

/** `kura config LOCATION`: the image config exactly as stored (crane config). */
export function registerConfig(program: Command): void {
  remoteOptions(
    program
      .command('config <location>')
      .description(
        'print the image config blob exactly as stored; for an index, of the image for this machine (or --platform)',
      )
      .option('--platform <os/arch[/variant]>', 'the image of an index (default: this machine)'),
  ).action(async (location: string, opts: ImageOptions) => {
    const { root, platform } = await openImage(location, opts);
    const { resolveImage } = await import('../../analysis/resolve.js');
    process.stdout.write(await (await resolveImage(root, platform)).image.rawConfig());
  });
}

/** The digest a registry names for a tag, from a HEAD (which does not count as a pull). */
async function headDigest(repo: RegistryRepository, ref: ImageReference | string): Promise<string | undefined> {
  const d = (await repo.head(ref)).descriptor.digest;
  return isDigest(d) ? d : undefined;
}

/** `kura digest LOCATION`: the manifest digest (a HEAD for registries); with --platform, the platform image's. */
export function registerDigest(program: Command): void {
  remoteOptions(
    program
      .command('digest <location>')
      .description('print the digest of the manifest or index a location names (registries: one HEAD request)')
      .option('--platform <os/arch[/variant]>', 'the digest of this platform’s image in an index'),
  ).action(async (location: string, opts: ImageOptions) => {
    let digest: string | undefined;
    if (!opts.platform) {
      const { openLocation } = await import('../../transports/locations.js');
      const loc = await openLocation(location, locationOptions(opts));
      const { RegistryRepository } = await import('../../transports/registry/index.js');
      if (loc.medium instanceof RegistryRepository) digest = await headDigest(loc.medium, loc.image ?? loc.ref);
    }
    if (!digest) {
      const { root, platform } = await openImage(location, opts);
      const { resolveImage } = await import('../../analysis/resolve.js');
      digest = platform ? (await resolveImage(root, platform)).image.descriptor.digest : root.descriptor.digest;
    }
    process.stdout.write(opts.json ? JSON.stringify({ digest }) + '\n' : `${digest}\n`);
  });
}
