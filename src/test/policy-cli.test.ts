import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startKura } from './kura-process.js';
import { kuraRunner } from './helpers.js';
import { digestOf } from '../oci/digest.js';
import { tempDir } from './tempdirs.js';

async function pushTags(url: string, repo: string, tags: string[]): Promise<void> {
  const config = Buffer.from('{}');
  assert.equal(
    (await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digestOf(config)}`, { method: 'POST', body: config }))
      .status,
    201,
  );
  for (const tag of tags) {
    const layer = randomBytes(100);
    assert.equal(
      (await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digestOf(layer)}`, { method: 'POST', body: layer }))
        .status,
      201,
    );
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: 100 }],
    });
    const r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(r.status, 201);
    await new Promise((res) => setTimeout(res, 5));
  }
}

const kura = kuraRunner();

test(
  'kura policy plan prints exactly what kura policy apply then removes (Kura rules and an ECR lifecycle ' + 'file)',
  async () => {
    let server = await startKura();
    const dataDir = server.dataDir;
    await pushTags(server.url, 'team/web', ['1', '2', '3', '4', 'latest']);
    await pushTags(server.url, 'legacy/db', ['a', 'b', 'c']);
    await server.stop();

    writeFileSync(
      join(dataDir, 'lifecycle.json'),
      JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            description: 'keep one',
            selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 },
            action: { type: 'expire' },
          },
        ],
      }),
    );
    const cfg = join(dataDir, 'kura.yml');
    writeFileSync(
      cfg,
      [
        'retention:',
        '  rules:',
        '    - repositories: ["team/*"]',
        '      keepLast: 2',
        '      keepTags: [latest]',
        '  ecr:',
        '    - repositories: ["legacy/*"]',
        '      policyFile: lifecycle.json',
        '',
      ].join('\n'),
    );
    const plan = JSON.parse((await kura('policy', 'plan', '--config', cfg, '--data', dataDir, '--json')).stdout);
    const text = await kura('policy', 'plan', '--config', cfg, '--data', dataDir);
    assert.match(text.stdout, /REPOSITORY\s+REMOVE\s+WHY/);
    assert.match(text.stderr, /2 repositories matched; would remove 4/);
    const applied = JSON.parse((await kura('policy', 'apply', '--config', cfg, '--data', dataDir, '--json')).stdout);
    const strip = (p: { actions: unknown[] }) => p.actions;
    assert.deepEqual(strip(applied), strip(plan), 'apply carried out the plan it printed');
    assert.equal(applied.applied, plan.actions.length);

    server = await startKura({ dataDir });
    const tags = async (repo: string) =>
      ((await (await fetch(`${server.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags;
    assert.deepEqual(await tags('team/web'), ['3', '4', 'latest']);
    assert.deepEqual(await tags('legacy/db'), ['c']);
    await server.stop();
    assert.deepEqual(
      JSON.parse((await kura('policy', 'plan', '--config', cfg, '--data', dataDir, '--json')).stdout).actions,
      [],
    );
  },
);

test(
  'an ECR lifecycle policy that ECR itself rejects is refused with ECR’s reason, and nothing is ' + 'planned',
  async () => {
    const dir = tempDir('kura-ecr-invalid-');
    const expire = { type: 'expire' };
    const cases: [string, object[], RegExp][] = [
      [
        'any not last',
        [
          {
            rulePriority: 1,
            selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 },
            action: expire,
          },
          {
            rulePriority: 2,
            selection: {
              tagStatus: 'tagged',
              tagPrefixList: ['prod'],
              countType: 'imageCountMoreThan',
              countNumber: 5,
            },
            action: expire,
          },
        ],
        /rules\.0\.rulePriority: ECR refuses this policy: a rule with tagStatus "any" must have the highest rulePriority/,
      ],
      [
        'tagged without a list',
        [
          {
            rulePriority: 1,
            selection: { tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 1 },
            action: expire,
          },
        ],
        /rules\.0\.selection: ECR refuses this policy: with tagStatus "tagged" you must also specify a tagPrefixList or tagPatternList value/,
      ],
      [
        'duplicate priority',
        [
          {
            rulePriority: 1,
            selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 },
            action: expire,
          },
          {
            rulePriority: 1,
            selection: {
              tagStatus: 'tagged',
              tagPatternList: ['v*'],
              countType: 'sinceImagePushed',
              countUnit: 'days',
              countNumber: 3,
            },
            action: expire,
          },
        ],
        /unique rulePriority/,
      ],
    ];
    for (const [name, rules, reason] of cases) {
      writeFileSync(join(dir, 'lifecycle.json'), JSON.stringify({ rules }));
      const cfg = join(dir, 'kura.yml');
      writeFileSync(
        cfg,
        ['retention:', '  ecr:', '    - repositories: ["*"]', '      policyFile: lifecycle.json', ''].join('\n'),
      );
      const err = await kura('policy', 'plan', '--config', cfg, '--data', join(dir, 'data')).then(
        () => assert.fail(`${name}: accepted`),
        (e: { code: number; stderr: string; stdout: string }) => e,
      );
      assert.equal(err.code, 1, name);
      assert.match(err.stderr, reason, name);
      assert.equal(err.stdout, '', name);
      assert.equal(err.stderr.trim().split('\n').length, 1, `${name}: one line`);
    }
    // The same rules inline in the config file are refused too.
    writeFileSync(
      join(dir, 'inline.yml'),
      `retention:\n  ecr:\n    - repositories: ["*"]\n      policy: ${JSON.stringify({ rules: cases[0]![1] })}\n`,
    );
    await assert.rejects(
      kura('policy', 'plan', '--config', join(dir, 'inline.yml'), '--data', join(dir, 'data')),
      /tagStatus "any" must have the highest rulePriority/,
    );
  },
);
