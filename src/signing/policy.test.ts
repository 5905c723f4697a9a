import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPolicy, requirementsFor, signedIdentityMatches, type PolicyJson } from './policy.js';
import { tempDir } from '../test/tempdirs.js';

test('requirementsFor picks the most specific docker scope, as containers-policy.json(5) says', () => {
  const p: PolicyJson = {
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'reg.example.com/team/app:v1': [{ type: 'insecureAcceptAnything' }],
        'reg.example.com/team/app': [{ type: 'sigstoreSigned', keyPath: 'a.pub' }],
        'reg.example.com/team': [{ type: 'sigstoreSigned', keyPath: 'team.pub' }],
        'reg.example.com': [{ type: 'sigstoreSigned', keyPath: 'host.pub' }],
        '*.example.org': [{ type: 'sigstoreSigned', keyPath: 'wild.pub' }],
      },
    },
  };
  const key = (ref: string) => {
    const r = requirementsFor(p, ref)[0]!;
    return r.type === 'sigstoreSigned' ? r.keyPath : r.type;
  };
  assert.equal(key('reg.example.com/team/app:v1'), 'insecureAcceptAnything');
  assert.equal(key('reg.example.com/team/app:v2'), 'a.pub');
  assert.equal(key('reg.example.com/team/app@sha256:' + 'a'.repeat(64)), 'a.pub');
  assert.equal(key('reg.example.com/team/other:v1'), 'team.pub');
  assert.equal(key('reg.example.com/x:v1'), 'host.pub');
  assert.equal(key('r.sub.example.org/x:v1'), 'wild.pub');
  assert.equal(key('elsewhere.io/x:v1'), 'reject');
  const oci: PolicyJson = {
    default: [{ type: 'reject' }],
    transports: { oci: { '': [{ type: 'insecureAcceptAnything' }] } },
  };
  assert.equal(requirementsFor(oci, 'oci:/some/dir:v1', 'oci')[0]!.type, 'insecureAcceptAnything');
  assert.equal(requirementsFor(oci, 'r.io/x:v1')[0]!.type, 'reject');
});

test(
  'signedIdentity matchers: matchRepoDigestOrExact (default), matchExact, matchRepository, exactReference, ' +
    'exactRepository, remapIdentity',
  () => {
    const d = '@sha256:' + 'b'.repeat(64);
    assert.equal(signedIdentityMatches(undefined, 'r.io/a:v1', 'r.io/a:v1'), true);
    assert.equal(
      signedIdentityMatches(undefined, 'r.io/a:v1', 'r.io/a'),
      false,
      'a tag needs an exact signed reference; cosign signs the bare repository',
    );
    assert.equal(signedIdentityMatches(undefined, `r.io/a${d}`, 'r.io/a'), true, 'by digest, the repository is enough');
    assert.equal(signedIdentityMatches({ type: 'matchExact' }, `r.io/a${d}`, 'r.io/a'), false);
    assert.equal(signedIdentityMatches({ type: 'matchRepository' }, 'r.io/a:v1', 'r.io/a'), true);
    assert.equal(signedIdentityMatches({ type: 'matchRepository' }, 'r.io/a:v1', 'r.io/b'), false);
    assert.equal(
      signedIdentityMatches({ type: 'exactReference', dockerReference: 'r.io/a:v9' }, 'mirror.io/a:v1', 'r.io/a:v9'),
      true,
    );
    assert.equal(
      signedIdentityMatches({ type: 'exactRepository', dockerRepository: 'r.io/a' }, 'mirror.io/a:v1', 'r.io/a:v3'),
      true,
    );
    assert.equal(
      signedIdentityMatches(
        { type: 'remapIdentity', prefix: 'mirror.io', signedPrefix: 'r.io' },
        `mirror.io/a${d}`,
        'r.io/a',
      ),
      true,
    );
    assert.equal(
      signedIdentityMatches(
        { type: 'remapIdentity', prefix: 'mirror.io', signedPrefix: 'r.io' },
        `mirror.io/a${d}`,
        'mirror.io/b',
      ),
      false,
    );
  },
);

test('loadPolicy refuses files that are not policies, with the file named', async () => {
  const dir = tempDir('kura-policy-');
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  await assert.rejects(loadPolicy(write('a.json', '{')), /a\.json: not a readable policy\.json/);
  await assert.rejects(loadPolicy(write('b.json', '{"transports":{}}')), /needs a "default" list/);
  await assert.rejects(
    loadPolicy(write('c.json', '{"default":[{"type":"magic"}]}')),
    /unknown requirement type "magic"/,
  );
  await assert.rejects(
    loadPolicy(write('d.json', '{"default":[{"type":"reject"}],"transports":{"docker":{"x":[]}}}')),
    /non-empty list/,
  );
  assert.ok(await loadPolicy(write('e.json', '{"default":[{"type":"insecureAcceptAnything"}]}')));
});
