#!/usr/bin/env node
// Side-by-side benchmark on one S3 server (Ceph RGW): Kura on S3 + PostgreSQL against Distribution 2.8.x with its
// s3 driver, the scenarios of bench/registry.mjs (bench/lib/scenarios.mjs) alternating the two, N runs each.
// Usage: node bench/s3.mjs [--runs 3] [--only a,b] [--quick] [--set key=value] [--out file.json]
// Services: KURA_TEST_S3_ENDPOINT/_BUCKET/_ACCESS_KEY/_SECRET_KEY and KURA_TEST_POSTGRES_URL (as for the tests);
// when unset, scripts/services/start-ceph-rgw.sh and start-postgres.sh start throw-away ones (as root), stopped after.
import { parseArgs } from 'node:util';
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freePort, startServer } from './lib/servers.mjs';
import { SCENARIOS, makeContext } from './lib/scenarios.mjs';

const MiB = 2 ** 20;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const log = (s) => process.stderr.write(s + '\n');

/** The rows the issue sets targets for: scenario, metric key, the Kura/Distribution ratio wanted. */
const TARGETS = [
  { scenario: 'manifest-get', key: 'get.rps', label: 'manifest GET (req/s)', want: 5 },
  { scenario: 'blob-head', key: 'head.rps', label: 'blob HEAD (req/s)', want: 5 },
  { scenario: 'tags', key: 'list.rps', label: 'tag list GET (req/s)', want: 3 },
  // images.rate is rounded to 0.1 img/s, too coarse at S3 speeds: the rate from the run's own count and time.
  {
    scenario: 'small-images',
    key: 'images.rate',
    label: 'small images pushed (img/s)',
    want: 2,
    of: (rec) => Number((rec.notes.images / rec.notes.seconds).toFixed(3)),
  },
  { scenario: 'big-layer', key: 'push.mibps', label: 'big layer push (MiB/s)', want: 1 },
];

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    set: { type: 'string', multiple: true },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(`node bench/s3.mjs [options]
  --runs N        runs per scenario and server, alternating which goes first (default 3)
  --only a,b      scenarios: ${TARGETS.map((t) => t.scenario).join(', ')} (default all)
  --quick         small sizes (64 MiB layer, 20 images, 200 tags, 3 s load runs)
  --set key=value one size (repeatable): layerMiB, pulls, images, tags, wrkSeconds, walkSeconds
  --out FILE      JSON results (default bench/results/s3-<time>.json)`);
  process.exit(0);
}
const runs = Number(opt.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${opt.runs}: not a positive whole number`);
const sizes = opt.quick
  ? { layerBytes: 64 * MiB, pulls: 1, images: 20, tags: 200, repos: 0, mounts: 0, wrkSeconds: 3, walkSeconds: 1 }
  : { layerBytes: 1024 * MiB, pulls: 1, images: 200, tags: 1000, repos: 0, mounts: 0, wrkSeconds: 5, walkSeconds: 2 };
for (const kv of opt.set ?? []) {
  const [k, v] = kv.split('=');
  if (!Number.isFinite(Number(v)) || Number(v) <= 0) throw new Error(`--set ${kv}: not a positive number`);
  if (k === 'layerMiB') sizes.layerBytes = Number(v) * MiB;
  else if (k in sizes) sizes[k] = Number(v);
  else throw new Error(`--set: unknown size ${k}`);
}
const names = opt.only ? opt.only.split(',').map((s) => s.trim()) : TARGETS.map((t) => t.scenario);
for (const n of names)
  if (!TARGETS.some((t) => t.scenario === n)) throw new Error(`--only: unknown scenario ${n} (see --help)`);
const scenarios = SCENARIOS.filter((s) => names.includes(s.name));

/** The services: the ones named by the environment, else throw-away ones this run starts and stops. */
async function services(stops) {
  const env = process.env;
  let s3;
  if (env.KURA_TEST_S3_ENDPOINT) {
    s3 = {
      endpoint: env.KURA_TEST_S3_ENDPOINT,
      bucket: env.KURA_TEST_S3_BUCKET || 'kura-test',
      accessKeyId: env.KURA_TEST_S3_ACCESS_KEY ?? '',
      secretAccessKey: env.KURA_TEST_S3_SECRET_KEY ?? '',
      started: false,
    };
  } else {
    log('starting Ceph RGW (scripts/services/start-ceph-rgw.sh, memstore OSD of 8 GiB)…');
    const [rgw, v2, v1] = [await freePort(), await freePort(), await freePort()];
    const { stdout } = await run('bash', [path.join(repoRoot, 'scripts/services/start-ceph-rgw.sh')], {
      env: {
        ...env,
        RGW_PORT: String(rgw),
        MON_V2_PORT: String(v2),
        MON_V1_PORT: String(v1),
        OSD_BYTES: String(8 * 1024 * MiB),
        S3_BUCKET: 'kura-bench',
      },
    });
    const vars = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    stops.push(() => run('bash', [`${vars.CEPH_RGW_DIR}/stop.sh`]));
    s3 = {
      endpoint: vars.S3_ENDPOINT,
      bucket: vars.S3_BUCKET,
      accessKeyId: vars.AWS_ACCESS_KEY_ID,
      secretAccessKey: vars.AWS_SECRET_ACCESS_KEY,
      started: true,
    };
  }
  let pgUrl = env.KURA_TEST_POSTGRES_URL;
  if (!pgUrl) {
    log('starting PostgreSQL 15 (scripts/services/start-postgres.sh)…');
    const port = await freePort();
    const { stdout } = await run('bash', [path.join(repoRoot, 'scripts/services/start-postgres.sh')], {
      env: { ...env, PGPORT: String(port), PG_DB: 'kura_bench' },
    });
    const dir = /^export PG_DIR=(.+)$/m.exec(stdout)?.[1];
    if (!dir) throw new Error(`start-postgres.sh printed no PG_DIR:\n${stdout}`);
    stops.push(() => run('bash', [`${dir}/stop.sh`]));
    pgUrl = `postgres://postgres@127.0.0.1:${port}/kura_bench`;
  }
  return { s3, pgUrl };
}

/** Deletes what one run left under `prefix` (RGW's memstore holds it in RAM) and Kura's schema. */
async function cleanUp(client, s3, prefix, pgUrl, schema) {
  let token;
  do {
    const out = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    const keys = (out.Contents ?? []).map((o) => o.Key);
    for (let i = 0; i < keys.length; i += 32)
      await Promise.all(
        keys.slice(i, i + 32).map((Key) => client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key }))),
      );
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  if (schema) {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}

function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown';
  const dist = (() => {
    try {
      return execFileSync(process.env.DISTRIBUTION_BIN || '/usr/bin/docker-registry', ['--version'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      return 'n/a';
    }
  })();
  return {
    nproc: os.availableParallelism(),
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    dist,
  };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const metricOf = (rec, key) => rec.metrics?.find((m) => m.key === key)?.value;
/** The value a target row compares, or undefined when the run failed. */
const valueOf = (t, rec) => (rec.error ? undefined : t.of ? t.of(rec) : metricOf(rec, t.key));

async function main() {
  const stops = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e) => log(`stopping a service: ${e.message}`));
    stops.length = 0;
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const m = machine();
    const load0 = os.loadavg();
    const { s3, pgUrl } = await services(stops);
    log(`S3 ${s3.endpoint} bucket ${s3.bucket}; PostgreSQL ${pgUrl.replace(/:[^:@/]*@/, ':***@')}`);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const ctx = makeContext(sizes, 0, false);
    if (names.includes('big-layer')) ctx.bigLayer();
    if (names.includes('small-images')) ctx.smallImages();
    const results = [];
    for (const sc of scenarios) {
      const entry = { scenario: sc.name, title: sc.title(sizes), runs: { distribution: [], kura: [] } };
      log(`\n[${sc.name}] ${entry.title}`);
      for (let r = 0; r < runs; r++) {
        const order = r % 2 === 0 ? ['distribution', 'kura'] : ['kura', 'distribution'];
        for (const kind of order) {
          const prefix = `bench-s3-${kind}-${randomUUID()}`;
          const schema = kind === 'kura' ? `bench_${randomUUID().replace(/-/g, '')}` : undefined;
          const where = { ...s3, prefix, postgres: schema ? { url: pgUrl, schema } : undefined };
          let srv;
          const rec = { server: kind };
          try {
            srv = await startServer(kind, { repoRoot, s3: where });
            const t0 = performance.now();
            const out = await sc.run(srv, ctx);
            rec.seconds = Number(((performance.now() - t0) / 1000).toFixed(2));
            rec.metrics = out.metrics;
            rec.notes = out.notes;
          } catch (e) {
            rec.error = e.message;
            if (srv) rec.serverStderrTail = srv.stderr().slice(-2000);
          } finally {
            await srv?.stop();
            await cleanUp(client, s3, prefix, pgUrl, schema);
          }
          entry.runs[kind].push(rec);
          const t = TARGETS.find((x) => x.scenario === sc.name);
          const said = rec.error ? `FAILED ${rec.error.split('\n')[0]}` : `${valueOf(t, rec)} (${t.label})`;
          log(`  run ${r + 1} ${kind}: ${said}`);
        }
      }
      results.push(entry);
    }
    client.destroy();
    const load1 = os.loadavg();
    report(m, load0, load1, s3, results);
    const out =
      opt.out ?? path.join(repoRoot, 'bench/results', `s3-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    writeFileSync(out, JSON.stringify({ sizes, runs, machine: m, loadavg: [load0, load1], results }, null, 2));
    log(`\nJSON: ${out}`);
    if (results.some((e) => Object.values(e.runs).some((rs) => rs.some((r) => r.error)))) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

function report(m, load0, load1, s3, results) {
  const lines = [
    `## S3 benchmark — ${new Date().toISOString()}`,
    '',
    `Machine: ${m.nproc} cores, ${m.cpu}, ${m.memGiB} GiB, node ${m.node}; load average ${load0[0].toFixed(1)} at ` +
      `start, ${load1[0].toFixed(1)} at end. Distribution: ${m.dist}, s3 driver. Both on ${s3.endpoint} ` +
      `(${s3.started ? 'Ceph RGW started by this run' : 'Ceph RGW from KURA_TEST_S3_ENDPOINT'}); Kura's metadata ` +
      'on PostgreSQL 15.',
    `Sizes: ${JSON.stringify({ ...sizes, layerBytes: undefined, layerMiB: sizes.layerBytes / MiB })}; ${runs} runs ` +
      'per server, alternating which goes first; the value is the mean, the runs in brackets.',
    '',
    '| scenario | metric | Distribution | Kura | Kura/Dist | target | met |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const e of results) {
    const t = TARGETS.find((x) => x.scenario === e.scenario);
    const vals = (kind) => e.runs[kind].map((r) => valueOf(t, r));
    const [d, k] = [vals('distribution'), vals('kura')];
    const failed = [...d, ...k].some((v) => typeof v !== 'number');
    const cell = (xs) => (failed ? xs.join(', ') : `${Number(mean(xs).toPrecision(3))} [${xs.join(', ')}]`);
    const ratio = failed ? null : mean(k) / mean(d);
    const met = ratio == null ? 'FAILED' : ratio >= t.want ? 'yes' : 'no';
    const shown = ratio?.toFixed(2) ?? '—';
    lines.push(`| ${e.scenario} | ${t.label} | ${cell(d)} | ${cell(k)} | ${shown} | ≥ ${t.want}× | ${met} |`);
  }
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
