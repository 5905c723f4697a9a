#!/usr/bin/env node
// kura copy vs skopeo copy, side by side in one run: a 1 GiB single-layer image and 50 small images,
// registry→registry and registry→OCI layout. Prints a markdown table (stdout) with the ratios.
//
//   npm run build && node bench/copy.mjs [--quick] [--server kura|distribution] [--set layerMiB=N] [--set images=N]
//
// Both clients copy the same images from one source registry to one destination registry (two
// fresh servers on 127.0.0.1), each to names the other never used, so neither finds blobs already
// there. Each client run is timed with GNU time (wall, CPU, peak RSS of the client process).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { randomStream, randomBytes } from './lib/data.mjs';
import { startServer } from './lib/servers.mjs';
import { KURA } from './lib/kura.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const sizes = { layerMiB: quick ? 128 : 1024, images: quick ? 10 : 50 };
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--set') {
    const [k, v] = args[++i].split('=');
    sizes[k] = Number(v);
  }
}
const serverKind = args.includes('--server') ? args[args.indexOf('--server') + 1] : 'kura';
const log = (s) => process.stderr.write(`${s}\n`);
const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** An OCI layout with one image per tag, written with plain Node (no Kura code on the setup path). */
class Layout {
  constructor(dir) {
    this.dir = dir;
    this.index = [];
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  }
  put(buf, mediaType) {
    const digest = sha(buf);
    writeFileSync(path.join(this.dir, 'blobs', 'sha256', digest.slice(7)), buf);
    return { mediaType, digest, size: buf.length };
  }
  image(tag, layers, diffIds, label) {
    const config = this.put(
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Labels: { bench: label } },
          rootfs: { type: 'layers', diff_ids: diffIds },
          history: diffIds.map(() => ({ created_by: 'bench' })),
        }),
      ),
      'application/vnd.oci.image.config.v1+json',
    );
    const m = this.put(
      Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }),
      ),
      'application/vnd.oci.image.manifest.v1+json',
    );
    this.index.push({ ...m, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }
  save() {
    writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: this.index }));
  }
}

/** A gzip layer of `mib` MiB of random bytes, streamed to disk; returns its descriptor and diff_id. */
async function bigLayer(layout, mib) {
  const tmp = path.join(layout.dir, 'big.tmp');
  const raw = createHash('sha256');
  const gz = createHash('sha256');
  let size = 0;
  await pipeline(
    randomStream(7, mib << 20),
    new Transform({ transform: (c, _e, cb) => (raw.update(c), cb(null, c)) }),
    createGzip({ level: 1 }),
    new Transform({ transform: (c, _e, cb) => (gz.update(c), (size += c.length), cb(null, c)) }),
    createWriteStream(tmp),
  );
  const digest = 'sha256:' + gz.digest('hex');
  renameSync(tmp, path.join(layout.dir, 'blobs', 'sha256', digest.slice(7)));
  return {
    layer: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size },
    diffId: 'sha256:' + raw.digest('hex'),
  };
}

async function makeSource(dir) {
  const stamp = path.join(dir, `.done-${sizes.layerMiB}-${sizes.images}`);
  if (existsSync(stamp)) return new Layout(dir);
  rmSync(dir, { recursive: true, force: true });
  const l = new Layout(dir);
  log(`setup: generating a ${sizes.layerMiB} MiB gzip layer and ${sizes.images} small images in ${dir}`);
  const big = await bigLayer(l, sizes.layerMiB);
  l.image('big', [big.layer], [big.diffId], 'big');
  for (let i = 0; i < sizes.images; i++) {
    const layers = [];
    const diffIds = [];
    for (let j = 0; j < 3; j++) {
      const raw = randomBytes(1000 + i * 10 + j, 10_240 + ((i * 7 + j * 13) % 20) * 10_240);
      layers.push(l.put(gzipSync(raw, { level: 1 }), 'application/vnd.oci.image.layer.v1.tar+gzip'));
      diffIds.push(sha(raw));
    }
    l.image(`small${i}`, layers, diffIds, `small${i}`);
  }
  l.save();
  writeFileSync(stamp, '');
  return l;
}

/** Runs a command under GNU time; returns wall s, CPU s and peak RSS MiB of the client. */
function timed(cmd, argv) {
  const out = path.join(os.tmpdir(), `kura-bench-time-${process.pid}`);
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-o', out, '-f', '%e %U %S %M', cmd, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      const [wall, user, sys, rssKiB] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
      resolve({ wall, cpu: user + sys, rssMiB: rssKiB / 1024 });
    });
  });
}

const CLIENTS = {
  kura: (src, dst) => timed(process.execPath, [KURA, 'copy', '-q', src, dst]),
  skopeo: (src, dst) =>
    timed('skopeo', [
      'copy',
      '-q',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      src.replace(/^oci:/, 'oci:'),
      dst,
    ]),
};

async function scenario(name, order, runOne) {
  const res = {};
  for (const c of order) {
    log(`${name}: ${c}`);
    res[c] = await runOne(c);
  }
  return { name, ...res };
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-copy-'));
  const srcLayout = await makeSource(path.join(os.tmpdir(), 'kura-bench-copy-source'));
  const src = await startServer(serverKind, { repoRoot });
  const dst = await startServer(serverKind, { repoRoot });
  const srcHost = `127.0.0.1:${src.port}`;
  const dstHost = `127.0.0.1:${dst.port}`;
  const results = [];
  try {
    log(`setup: pushing the source images to ${srcHost}`);
    execFileSync(process.execPath, [
      KURA,
      'copy',
      '-q',
      `oci:${srcLayout.dir}:big`,
      `docker://${srcHost}/bench/big:v1`,
    ]);
    for (let i = 0; i < sizes.images; i++) {
      execFileSync(process.execPath, [
        KURA,
        'copy',
        '-q',
        `oci:${srcLayout.dir}:small${i}`,
        `docker://${srcHost}/bench/small${i}:v1`,
      ]);
      execFileSync(process.execPath, [
        KURA,
        'copy',
        '-q',
        `oci:${srcLayout.dir}:small${i}`,
        `docker://${srcHost}/bench/small:t${i}`,
      ]);
    }
    const orders = [
      ['kura', 'skopeo'],
      ['skopeo', 'kura'],
    ];
    let o = 0;
    results.push(
      await scenario(`1 image, one ${sizes.layerMiB} MiB layer, registry → registry`, orders[o++ % 2], (c) =>
        CLIENTS[c](`docker://${srcHost}/bench/big:v1`, `docker://${dstHost}/${c}/big:v1`),
      ),
    );
    results.push(
      await scenario(`1 image, one ${sizes.layerMiB} MiB layer, registry → OCI layout`, orders[o++ % 2], (c) =>
        CLIENTS[c](`docker://${srcHost}/bench/big:v1`, `oci:${path.join(work, `${c}-big`)}:v1`),
      ),
    );
    const many = async (c, dstOf, srcOf = (i) => `docker://${srcHost}/bench/small${i}:v1`) => {
      const sum = { wall: 0, cpu: 0, rssMiB: 0 };
      for (let i = 0; i < sizes.images; i++) {
        const r = await CLIENTS[c](srcOf(i), dstOf(c, i));
        sum.wall += r.wall;
        sum.cpu += r.cpu;
        sum.rssMiB = Math.max(sum.rssMiB, r.rssMiB);
      }
      return sum;
    };
    results.push(
      await scenario(
        `${sizes.images} small images (3 layers of 10–200 KiB), registry → registry, one command each`,
        orders[o++ % 2],
        (c) => many(c, (c, i) => `docker://${dstHost}/${c}/small${i}:v1`),
      ),
    );
    results.push(
      await scenario(`${sizes.images} small images, registry → OCI layout, one command each`, orders[o++ % 2], (c) =>
        many(c, (c, i) => `oci:${path.join(work, `${c}-small`)}:s${i}`),
      ),
    );
    // One command for the lot: the ${sizes.images} images as tags of one repository. kura copy --all-tags
    // against skopeo sync (registry → registry); skopeo sync cannot write OCI layouts, so there
    // skopeo's best is one copy per tag.
    results.push(
      await scenario(
        `${sizes.images} small images as tags of one repository, registry → registry, one command (kura copy -a / skopeo sync)`,
        orders[o++ % 2],
        (c) =>
          c === 'kura'
            ? timed(process.execPath, [
                KURA,
                'copy',
                '-q',
                '-a',
                `docker://${srcHost}/bench/small`,
                `docker://${dstHost}/kura-all/small`,
              ])
            : timed('skopeo', [
                'sync',
                '--src',
                'docker',
                '--dest',
                'docker',
                '--src-tls-verify=false',
                '--dest-tls-verify=false',
                `${srcHost}/bench/small`,
                `${dstHost}/skopeo-all`,
              ]),
      ),
    );
    results.push(
      await scenario(
        `${sizes.images} small images as tags of one repository, registry → OCI layout (kura copy -a / skopeo copy per tag)`,
        orders[o++ % 2],
        (c) =>
          c === 'kura'
            ? timed(process.execPath, [
                KURA,
                'copy',
                '-q',
                '-a',
                `docker://${srcHost}/bench/small`,
                `oci:${path.join(work, 'kura-all')}`,
              ])
            : many(
                c,
                (c, i) => `oci:${path.join(work, 'skopeo-all')}:t${i}`,
                (i) => `docker://${srcHost}/bench/small:t${i}`,
              ),
      ),
    );
  } finally {
    await src.stop();
    await dst.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const f = (x, d = 2) => x.toFixed(d);
  const kv = execFileSync('skopeo', ['--version']).toString().trim();
  console.log(
    `Servers: two ${serverKind} registries on 127.0.0.1. Clients: kura (Node ${process.version}) and ${kv}. ${os.cpus().length} vCPUs.\n`,
  );
  console.log(
    '| scenario | kura wall s | skopeo wall s | speed ratio (skopeo/kura) | kura CPU s | skopeo CPU s | kura peak RSS MiB | skopeo peak RSS MiB |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${f(r.kura.wall)} | ${f(r.skopeo.wall)} | **${f(r.skopeo.wall / r.kura.wall)}×** | ${f(r.kura.cpu)} | ${f(r.skopeo.cpu)} | ${f(r.kura.rssMiB, 0)} | ${f(r.skopeo.rssMiB, 0)} |`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
