import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { digestOf, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import type { RepositorySnapshot } from '../metadata/types.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { Registry } from './registry.js';
import { planEcr, planRule, type RetentionAction } from './retention.js';

const DAY = 86_400_000;
const NOW = 1000 * DAY;
const d = (s: string) => digestOf(s);
const none = () => false;

function snap(
  tags: [string, string, number][],
  manifests: { id: string; days: number; subject?: string; pulledDays?: number; children?: string[] }[],
): RepositorySnapshot {
  return {
    repo: 'team/app',
    tags: tags.map(([name, id, days]) => ({ name, digest: d(id), pushedAt: NOW - days * DAY })),
    manifests: manifests.map((m) => ({
      digest: d(m.id),
      pushedAt: NOW - m.days * DAY,
      pulledAt: m.pulledDays === undefined ? null : NOW - m.pulledDays * DAY,
      subject: m.subject ? d(m.subject) : null,
      artifactType: m.subject ? 'application/vnd.dev.cosign.artifact.sig.v1+json' : null,
      children: (m.children ?? []).map(d),
    })),
  };
}

const summary = (actions: RetentionAction[]) =>
  actions.map((a) => (a.kind === 'tag' ? `tag ${a.tag}` : `image ${a.digest}`)).sort();

test('keepLast counts only unprotected tags, newest first; protected tags and shared digests survive', () => {
  const s = snap(
    [
      ['t1', 'm1', 9],
      ['t2', 'm2', 8],
      ['t3', 'm3', 7],
      ['t4', 'm4', 6],
      ['latest', 'm4', 1],
      ['v1.0.0', 'm1', 9],
      ['v2.1.0', 'm2', 8],
      ['alias', 'm3', 7],
    ],
    [
      { id: 'm1', days: 9 },
      { id: 'm2', days: 8 },
      { id: 'm3', days: 7 },
      { id: 'm4', days: 6 },
      { id: 'sig1', days: 9, subject: 'm1' },
      { id: 'sig3', days: 7, subject: 'm3' },
    ],
  );
  const plan = planRule(
    s,
    { repositories: ['team/*'], keepLast: 2, keepTags: ['latest'], keepSemver: '>=2' },
    NOW,
    none,
  );
  // Unprotected by push time: t4(6d) alias(7d) t3(7d) t2(8d) t1(9d) v1.0.0(9d) → keep t4 and alias.
  // m1 loses t1 and v1.0.0: the image and its signature go. m2 keeps v2.1.0. m3 keeps alias, so only t3 goes.
  assert.deepEqual(summary(plan), [`image ${d('m1')}`, `image ${d('sig1')}`, 'tag t2', 'tag t3'].sort());
  const m1 = plan.find((a) => a.kind === 'manifest' && a.digest === d('m1'));
  assert.deepEqual(m1 && m1.kind === 'manifest' ? m1.tags.sort() : null, ['t1', 'v1.0.0']);
  assert.match(plan.find((a) => a.kind === 'manifest' && a.digest === d('sig1'))!.reason, /referrer .* of removed/);
  // Immutable tags are protected too.
  const withImmutable = planRule(s, { repositories: ['*'], keepLast: 0 }, NOW, (t) => t.startsWith('v'));
  assert.ok(!summary(withImmutable).includes('tag v1.0.0') && !summary(withImmutable).includes(`image ${d('m1')}`));
});

test('untagged images past their age go, children of a kept index and referrers of kept images stay', () => {
  const s = snap(
    [['multi', 'idx', 1]],
    [
      { id: 'old-untagged', days: 30 },
      { id: 'new-untagged', days: 2 },
      { id: 'idx', days: 30, children: ['amd64', 'arm64'] },
      { id: 'amd64', days: 30 },
      { id: 'arm64', days: 30 },
      { id: 'sbom', days: 30, subject: 'idx' },
    ],
  );
  const plan = planRule(s, { repositories: ['*'], removeUntaggedOlderThan: 7 * DAY }, NOW, none);
  assert.deepEqual(summary(plan), [`image ${d('old-untagged')}`]);
  assert.match(plan[0]!.reason, /untagged and pushed more than 7d ago/);
  // A 0s setting is named in its own unit.
  const now = planRule(s, { repositories: ['*'], removeUntaggedOlderThan: 0 }, NOW, none);
  assert.ok(now.length > 0);
  for (const a of now) assert.equal(a.reason, 'untagged and pushed more than 0s ago');
  const pulled = planRule(
    snap([['v1', 'img', 3]], [{ id: 'img', days: 3 }]),
    { repositories: ['*'], removeNotPulledWithin: 0 },
    NOW,
    none,
  );
  assert.equal(pulled[0]!.reason, 'neither pulled nor pushed within 0s');
});

test('removeNotPulledWithin looks at the later of last pull and push', () => {
  const s = snap(
    [
      ['cold', 'm1', 100],
      ['warm', 'm2', 100],
      ['fresh', 'm3', 1],
    ],
    [
      { id: 'm1', days: 100, pulledDays: 60 },
      { id: 'm2', days: 100, pulledDays: 3 },
      { id: 'm3', days: 1 },
    ],
  );
  assert.deepEqual(summary(planRule(s, { repositories: ['*'], removeNotPulledWithin: 30 * DAY }, NOW, none)), [
    `image ${d('m1')}`,
  ]);
});

test('ECR lifecycle policy: first matching rule decides, count and age rules, referrers follow', () => {
  const s = snap(
    [
      ['prod-1', 'p1', 5],
      ['prod-2', 'p2', 4],
      ['prod-3', 'p3', 3],
      ['dev-1', 'd1', 40],
      ['dev-2', 'd2', 2],
    ],
    [
      { id: 'p1', days: 5 },
      { id: 'p2', days: 4 },
      { id: 'p3', days: 3 },
      { id: 'd1', days: 40 },
      { id: 'd2', days: 2 },
      { id: 'u-old', days: 20 },
      { id: 'u-new', days: 1 },
      { id: 'sig-p1', days: 5, subject: 'p1' },
    ],
  );
  const plan = planEcr(
    s,
    {
      rules: [
        {
          rulePriority: 1,
          description: 'keep 2 prod',
          selection: { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 2 },
          action: { type: 'expire' },
        },
        {
          rulePriority: 2,
          selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 },
          action: { type: 'expire' },
        },
        {
          rulePriority: 3,
          selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 },
          action: { type: 'expire' },
        },
      ],
    },
    NOW,
    none,
  );
  assert.deepEqual(
    summary(plan),
    [`image ${d('p1')}`, `image ${d('sig-p1')}`, `image ${d('u-old')}`, `image ${d('d1')}`].sort(),
  );
  assert.match(
    plan.find((a) => a.digest === d('p1'))!.reason,
    /ECR rule 1 \(keep 2 prod\): beyond the 2 newest images/,
  );
});

test(
  'plan and apply agree on a real store: exactly the planned tags and images go, and a second plan is ' + 'empty',
  async () => {
    const meta = new MemoryMetadataStore();
    const reg = new Registry(new MemoryBlobStore(), meta, {
      deleteEnabled: false,
      manifestMaxBytes: 1 << 20,
      blobMaxBytes: 0,
      tagsPerPush: 10,
      pageMax: 100,
      cacheLookups: true,
      retention: { rules: [{ repositories: ['team/**'], keepLast: 2, keepTags: ['stable'] }], ecr: [] },
      immutability: [{ repositories: ['team/**'], tags: ['release-*'] }],
    });
    const config = Buffer.from('{}');
    const cd = digestOf(config);
    await reg.monolithicUpload('team/app', cd, Readable.from([config]));
    const image = (n: number) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: 2 },
          layers: [],
          annotations: { n: String(n) },
        }),
      );
    const digests: Digest[] = [];
    for (let n = 0; n < 6; n++) {
      digests.push((await reg.putManifest('team/app', `b${n}`, undefined, image(n))).digest);
      await new Promise((r) => setTimeout(r, 3));
    }
    await reg.putManifest('team/app', 'stable', undefined, image(0));
    await reg.putManifest('team/app', 'release-1', undefined, image(1));
    // A signature on image 2, which the policy removes.
    const sig = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: cd, size: 2 },
        layers: [],
        subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digests[2], size: image(2).length },
      }),
    );
    const sigDigest = (await reg.putManifest('team/app', sig.length ? digestOf(sig) : '', undefined, sig)).digest;

    const plan = await reg.planRetention();
    assert.deepEqual(plan, await reg.planRetention(plan.at), 'planning is repeatable');
    // Kept: stable (b0's image), release-1 (immutable, b1's image), the two newest b4 b5.
    assert.deepEqual(
      summary(plan.actions),
      ['tag b0', 'tag b1', `image ${digests[2]}`, `image ${digests[3]}`, `image ${sigDigest}`].sort(),
    );
    const r = await reg.applyRetention(plan);
    assert.deepEqual(r, { applied: plan.actions.length, skipped: 0 });
    assert.deepEqual((await reg.listTags('team/app', {})).items, ['b4', 'b5', 'release-1', 'stable']);
    for (const gone of [digests[2]!, digests[3]!, sigDigest]) {
      await assert.rejects(
        reg.getManifest('team/app', gone),
        (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_UNKNOWN',
      );
    }
    assert.deepEqual((await reg.planRetention()).actions, []);
  },
);

test('immutable tags cannot move or be deleted; new ones and re-pushes of the same image are fine', async () => {
  const reg = new Registry(new MemoryBlobStore(), new MemoryMetadataStore(), {
    deleteEnabled: true,
    manifestMaxBytes: 1 << 20,
    blobMaxBytes: 0,
    tagsPerPush: 10,
    pageMax: 100,
    immutability: [{ repositories: ['prod/**'], tags: ['v*'] }],
  });
  const config = Buffer.from('{}');
  const cd = digestOf(config);
  await reg.monolithicUpload('prod/api', cd, Readable.from([config]));
  const image = (n: number) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: 2 },
        layers: [],
        annotations: { n: String(n) },
      }),
    );
  const first = await reg.putManifest('prod/api', 'v1', undefined, image(1));
  await reg.putManifest('prod/api', 'v1', undefined, image(1));
  const denied = (e: unknown) => e instanceof OciError && e.code === 'DENIED' && /immutable/.test(e.message);
  await assert.rejects(reg.putManifest('prod/api', 'v1', undefined, image(2)), denied);
  await assert.rejects(reg.deleteManifest('prod/api', 'v1'), denied);
  await assert.rejects(reg.deleteManifest('prod/api', first.digest), denied);
  assert.equal((await reg.getManifest('prod/api', 'v1')).record.digest, first.digest);
  await reg.putManifest('prod/api', 'latest', undefined, image(2));
  await reg.putManifest('prod/api', 'latest', undefined, image(3));
  await reg.deleteManifest('prod/api', 'latest');
});

test('many tags: keepLast 50 of 300 with a keep pattern and shared digests; plan and apply agree exactly', async () => {
  const meta = new MemoryMetadataStore();
  const reg = new Registry(new MemoryBlobStore(), meta, {
    deleteEnabled: true,
    manifestMaxBytes: 1 << 20,
    blobMaxBytes: 0,
    tagsPerPush: 10,
    pageMax: 1000,
    cacheLookups: true,
    retention: { rules: [{ repositories: ['big/**'], keepLast: 50, keepTags: ['keep-*'] }], ecr: [] },
  });
  const config = Buffer.from('{}');
  const cd = digestOf(config);
  await reg.monolithicUpload('big/repo', cd, Readable.from([config]));
  const image = (n: number) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: 2 },
        layers: [],
        annotations: { n: String(n) },
      }),
    );
  // 300 tags over 150 images: tag t{i} → image floor(i/2), so pairs of tags share a digest.
  for (let i = 0; i < 300; i++) {
    await reg.putManifest('big/repo', `t${String(i).padStart(3, '0')}`, undefined, image(Math.floor(i / 2)));
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  await reg.putManifest('big/repo', 'keep-first', undefined, image(0));
  const before = (await reg.listTags('big/repo', {})).items;
  const plan = await reg.planRetention();
  const removedTags = new Set(plan.actions.flatMap((a) => (a.kind === 'tag' ? [a.tag] : a.tags)));
  const result = await reg.applyRetention(plan);
  assert.equal(result.skipped, 0);
  const afterTags = (await reg.listTags('big/repo', {})).items;
  assert.deepEqual(
    afterTags,
    before.filter((t) => !removedTags.has(t)),
    'exactly the planned tags are gone',
  );
  assert.equal(afterTags.length, 51, '50 newest plus the protected keep-first');
  assert.ok(afterTags.includes('keep-first') && afterTags.includes('t299') && !afterTags.includes('t000'));
  // image(0) is kept through keep-first even though its t000/t001 tags went.
  assert.equal((await reg.getManifest('big/repo', 'keep-first')).record.size > 0, true);
  assert.deepEqual((await reg.planRetention()).actions, []);
});
