import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { hasTool, KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner } from './helpers.js';
import { tempDir } from './tempdirs.js';

const run = promisify(execFile);
const dir = tempDir('kura-sign-policy-');
const env = { ...process.env, CI: '1', KURA_PASSWORD: 'pw' };
const kura = kuraRunner({ env, cwd: dir });
const fails = (cmd: string, ...args: string[]) =>
  run(cmd, args, { env, cwd: dir }).then(
    () => assert.fail(`${cmd} ${args.join(' ')} succeeded`),
    (e: { code: number; stderr: string }) => e,
  );
const KEY = join(dir, 'cosign.key');
const PUB = join(dir, 'cosign.pub');

let server: KuraProcess;
let host: string;
before(async () => {
  server = await startKura();
  host = server.host;
  await kura('key', 'generate');
  await kura('key', 'generate', '--output-key-prefix', 'other');
  const img = await randomImage({ seed: 44 });
  for (const repo of ['pol/signed', 'pol/unsigned', 'pol/wrongkey'])
    await new RegistryClient({ registry: host }).repository(repo).write('v1', img);
  await new RegistryClient({ registry: host }).repository('pol/signed').write('v1', img);
  await kura('sign', '--key', KEY, `${host}/pol/signed:v1`);
  await kura('sign', '--key', join(dir, 'other.key'), `${host}/pol/wrongkey:v1`);
});
after(() => server?.stop());

function policy(name: string, doc: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(doc));
  return p;
}

test(
  'verify --policy and copy --policy: sigstoreSigned (keyPath, keyData) with signedIdentity, reject, ' +
    'insecureAcceptAnything',
  async () => {
    const keyData = Buffer.from(readFileSync(PUB)).toString('base64');
    const p = policy('policy.json', {
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          [`${host}/pol`]: [{ type: 'sigstoreSigned', keyPath: PUB, signedIdentity: { type: 'matchRepository' } }],
          [`${host}/pol/signed:exact`]: [{ type: 'sigstoreSigned', keyPath: PUB }],
          [`${host}/open`]: [{ type: 'insecureAcceptAnything' }],
          [`${host}/pol/data`]: [
            {
              type: 'sigstoreSigned',
              keyData,
              signedIdentity: { type: 'exactRepository', dockerRepository: `${host}/pol/signed` },
            },
          ],
        },
      },
    });
    assert.match(
      (await kura('verify', '--policy', p, `${host}/pol/signed:v1`)).stdout,
      /signed as the policy requires/,
    );
    const unsigned = await fails(process.execPath, KURA_MAIN, 'verify', '--policy', p, `${host}/pol/unsigned:v1`);
    assert.equal(unsigned.code, 1);
    assert.match(
      unsigned.stderr,
      /^kura: error: .*pol\/unsigned:v1 has no valid sigstore signature by the policy's keys: no signature found\n$/,
    );
    assert.match(
      (await fails(process.execPath, KURA_MAIN, 'verify', '--policy', p, `${host}/pol/wrongkey:v1`)).stderr,
      /no key verifies the signature/,
    );
    // copy --policy: the signed image goes, the others are refused before anything is written.
    await kura('copy', '-q', '--policy', p, `docker://${host}/pol/signed:v1`, `docker://${host}/open/copied:v1`);
    const refused = await fails(
      process.execPath,
      KURA_MAIN,
      'copy',
      '-q',
      '--policy',
      p,
      `docker://${host}/pol/unsigned:v1`,
      `docker://${host}/open/nope:v1`,
    );
    assert.match(refused.stderr, /^kura: error: .*no signature found; not copied\n$/);
    assert.equal((await fetch(`http://${host}/v2/open/nope/manifests/v1`)).status, 404);
    // insecureAcceptAnything, reject (the default), and the default identity rule for cosign's bare-repository
    // identity.
    assert.match((await kura('verify', '--policy', p, `${host}/open/copied:v1`)).stdout, /insecureAcceptAnything/);
    assert.match(
      (await fails(process.execPath, KURA_MAIN, 'verify', '--policy', p, `${host}/else/x:v1`)).stderr,
      /the policy rejects/,
    );
    await kura('copy', '-q', `docker://${host}/pol/signed:v1`, `docker://${host}/pol/signed:exact`);
    assert.match(
      (await fails(process.execPath, KURA_MAIN, 'verify', '--policy', p, `${host}/pol/signed:exact`)).stderr,
      /which the signedIdentity does not accept/,
    );
    // keyData with exactRepository: a copy in another repository, accepted for the identity it was signed as.
    await kura('copy', '-q', `docker://${host}/pol/signed:v1`, `docker://${host}/pol/data:v1`);
    await kura('verify', '--policy', p, `${host}/pol/data:v1`);
  },
);

/**
 * Debian's skopeo 1.9.3 (c/image 5.23) reads `sigstoreSigned` policies and finds cosign signatures
 * with `use-sigstore-attachments`, but Debian patched the verification out ("Debian-local change:
 * sigstore disabled"). This test records what that build does with Kura's signatures, and becomes a
 * full independent verification on a build that verifies.
 */
test(
  'skopeo (containers/image) with a sigstoreSigned policy.json and what Kura signed',
  { skip: hasTool('skopeo') ? undefined : 'skopeo is not installed' },
  async (t) => {
    const regd = join(dir, 'registries.d');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(regd, { recursive: true });
    writeFileSync(join(regd, 'kura.yaml'), `docker:\n  ${host}:\n    use-sigstore-attachments: true\n`);
    const p = policy('skopeo-policy.json', {
      default: [{ type: 'reject' }],
      transports: {
        docker: { [host]: [{ type: 'sigstoreSigned', keyPath: PUB, signedIdentity: { type: 'matchRepository' } }] },
      },
    });
    const copy = (repo: string, out: string) =>
      run('skopeo', [
        '--policy',
        p,
        '--registries.d',
        regd,
        'copy',
        '--src-tls-verify=false',
        `docker://${host}/${repo}:v1`,
        `oci:${join(dir, out)}:v1`,
      ]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
    const signed = await copy('pol/signed', 'sk-signed');
    const unsigned = await copy('pol/unsigned', 'sk-unsigned');
    assert.notEqual(unsigned.code, 0);
    assert.match(unsigned.stderr, /A signature was required, but no signature exists/);
    if (/sigstore disabled/.test(signed.stderr)) {
      t.diagnostic(
        'this skopeo build has sigstore verification disabled (Debian patch); it found the signature Kura wrote, ' +
          'but cannot verify it',
      );
      assert.notEqual(signed.code, 0);
    } else {
      assert.equal(signed.code, 0, `skopeo verifies what Kura signed: ${signed.stderr}`);
      assert.match(
        (await copy('pol/wrongkey', 'sk-wrong')).stderr,
        /cryptographic signature verification failed|signature/i,
      );
    }
  },
);
