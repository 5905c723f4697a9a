/** Test helper (not a test): a browser-less web UI client (cookies, CSRF tokens, forms) over a real server. */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { digestOf } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { descriptorOf, type TestImage } from './content.js';
import { content, makeImage, pushImage, pushManifest, type Content, type Requester, type Res } from './testkit.js';

/** Keeps the cookies the UI sets, as a browser would (path /ui, no expiry handling beyond Max-Age=0). */
export class UiClient {
  readonly cookies = new Map<string, string>();
  /** The CSRF token of the last page read. */
  csrf = '';

  constructor(private readonly server: Requester) {}

  private keep(res: Res): Res {
    for (const c of [res.headers['set-cookie'] ?? []].flat()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const m = /name="csrf" value="([^"]+)"/.exec(res.text());
    if (m) this.csrf = m[1]!;
    return res;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return { ...(cookie ? { cookie } : {}), ...extra };
  }

  async get(path: string): Promise<Res> {
    return this.keep(await this.server.req('GET', path, { headers: this.headers() }));
  }

  /** Posts a form; `csrf` is added unless the fields give one (pass csrf: '' to send none). */
  async post(path: string, fields: [string, string][] | Record<string, string>): Promise<Res> {
    const list = Array.isArray(fields) ? fields : Object.entries(fields);
    const body = new URLSearchParams(list);
    if (!body.has('csrf')) body.set('csrf', this.csrf);
    if (body.get('csrf') === '') body.delete('csrf');
    const headers = this.headers({ 'content-type': 'application/x-www-form-urlencoded' });
    return this.keep(await this.server.req('POST', path, { headers, body: body.toString() }));
  }

  async login(user: string, password: string): Promise<Res> {
    await this.get('/ui/login');
    const res = await this.post('/ui/login', { user, password, back: '/ui' });
    return res;
  }
}

/** Text as the page shows it: tags stripped, the five escapes undone (what a reader sees, not the markup). */
export function visibleText(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

export const XSS = '<img src=x onerror=alert(1)>';

/** An image whose config carries XSS strings in a label, an env value and the history. */
export function hostileImage() {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-02T03:04:05Z',
    rootfs: { type: 'layers', diff_ids: ['sha256:' + '1'.repeat(64)] },
    config: { Env: [`EVIL=${XSS}`], Labels: { 'org.example.evil': XSS }, Cmd: ['sh'] },
    history: [
      { created_by: `/bin/sh -c echo '${XSS}' > /x` },
      { created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
    ],
  };
  return makeImage({ configBytes: Buffer.from(JSON.stringify(config)) });
}

/** Pushes two single-platform images and an index over them; returns the index and the images. */
export async function pushIndex(ts: Requester, repo: string, tag: string) {
  const amd = makeImage({ platform: { os: 'linux', architecture: 'amd64' }, layers: 2, layerSize: 3000 });
  const arm = makeImage({ platform: { os: 'linux', architecture: 'arm64' }, layers: 1, layerSize: 5000 });
  await pushImage(ts, repo, amd);
  await pushImage(ts, repo, arm);
  const doc = {
    schemaVersion: 2,
    mediaType: MediaTypes.OciIndex,
    manifests: [
      {
        mediaType: amd.manifest.mediaType,
        digest: amd.manifest.digest,
        size: amd.manifest.size,
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: arm.manifest.mediaType,
        digest: arm.manifest.digest,
        size: arm.manifest.size,
        platform: { os: 'linux', architecture: 'arm64' },
      },
    ],
  };
  const index: Content = content(Buffer.from(JSON.stringify(doc)), MediaTypes.OciIndex);
  await pushManifest(ts, repo, tag, index);
  const sizeOf = (i: typeof amd) => i.manifest.size + i.config.size + i.layers.reduce((s, l) => s + l.size, 0);
  return { index, amd, arm, amdSize: sizeOf(amd), armSize: sizeOf(arm) };
}

export function assertHtml(res: Res, status = 200): string {
  assert.equal(res.status, status, res.text().slice(0, 500));
  assert.match(String(res.headers['content-type']), /^text\/html/);
  return res.text();
}

/** A gzip layer tar of files (`{ 'etc/conf': 'text' }`); a name ending in `/` is a directory. */
export async function tarLayer(files: Record<string, string>): Promise<{ gz: Buffer; diffId: string }> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [name, body] of Object.entries(files)) {
    if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
    else pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return { gz: gzipSync(tar), diffId: digestOf(tar) };
}

/** An image of real tar layers (bottom first) with a config naming their diff_ids and a history line each. */
export async function filesImage(
  layers: Record<string, string>[],
  config: Record<string, unknown> = {},
): Promise<TestImage> {
  const built = await Promise.all(layers.map(tarLayer));
  const doc = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: built.map((b) => b.diffId) },
    config,
    history: built.map((_, i) => ({ created_by: `/bin/sh -c layer-${i}` })),
  };
  const img = makeImage({ configBytes: Buffer.from(JSON.stringify(doc)), layers: 0 });
  const blobs = built.map((b) => content(b.gz, MediaTypes.OciLayerGzip));
  const manifest = JSON.parse(img.manifest.bytes.toString('utf8')) as Record<string, unknown>;
  manifest.layers = blobs.map((b) => descriptorOf(b));
  return { config: img.config, layers: blobs, manifest: content(JSON.stringify(manifest), MediaTypes.OciManifest) };
}
