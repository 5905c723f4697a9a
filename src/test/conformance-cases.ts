/**
 * The OCI distribution-spec v1.1.1 conformance suite, case by case (its list:
 * ../shared/reference/conformance-cases.md): the official suite cannot be built here, so each of
 * its 79 cases has a test of its own, named "#N <case>", asserting what the suite asserts, in the
 * same order and with the same workflow state. Test helper, not a test: src/http/conformance-cases.test.ts
 * runs it on the in-memory app, src/metadata/postgres-server.test.ts on `kura serve` over PostgreSQL.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import type { ServeConfigInput } from '../config/schema.js';
import { assertDeleted, CASES, crossMountCase, DUMMY, INVALID, OCTET, putManifest, upload } from './conformance-kit.js';
import {
  assertError,
  assertStatus,
  content,
  descriptorOf,
  EMPTY_CONFIG,
  errorCodes,
  makeImage,
  makeReferrer,
  randomBlob,
  uniqueRepo,
  type Content,
  type TestImage,
  type Res,
  type Requester,
} from './testkit.js';

/** One server for a test file, started with `config` (useMemoryApp, useTestServer). */
export type UseServer = (config: Partial<ServeConfigInput>) => Requester;

/**
 * Declares the 79 cases against a server from `use`: as a registry that needs `from` to mount
 * (OCI_AUTOMATIC_CROSSMOUNT=0), or with uploads.automaticMount (=1).
 */
export function conformanceSuite(automatic: boolean, use: UseServer): void {
  const ts = use({ uploads: { automaticMount: automatic } });
  const it = (n: number, fn: () => Promise<void>) => {
    const skip = crossMountCase(n, automatic);
    test(`#${n} ${CASES[n - 1]}`, skip ? { skip } : {}, fn);
  };

  describe('Pull', () => {
    const repo = uniqueRepo('conf-pull');
    const tag = 'tagtest0';
    const img0 = makeImage();
    const img1 = makeImage({ layers: 0 });
    const layer = img0.layers[0]!;
    const img1m = content(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OciManifest,
          config: descriptorOf(img1.config),
          layers: [descriptorOf(layer)],
        }),
      ),
      MediaTypes.OciManifest,
    );
    it(1, async () => void (await upload(ts, repo, img0.config)));
    it(2, async () => void (await upload(ts, repo, img1.config)));
    it(3, async () => void (await upload(ts, repo, layer)));
    it(4, async () => void (await putManifest(ts, repo, tag, img0.manifest)));
    it(5, async () => void (await putManifest(ts, repo, img1m.digest, img1m)));
    it(6, async () => assertStatus(await ts.req('HEAD', `/v2/${repo}/manifests/${tag}`), 200));
    it(7, async () => assertStatus(await ts.req('HEAD', `/v2/${repo}/blobs/${DUMMY}`), 404));
    it(8, async () => {
      const res = await ts.req('HEAD', `/v2/${repo}/blobs/${img0.config.digest}`);
      assertStatus(res, 200);
      assert.equal(Number(res.headers['content-length']), img0.config.size);
    });
    it(9, async () => assertError(await ts.req('GET', `/v2/${repo}/blobs/${DUMMY}`), 404, 'BLOB_UNKNOWN'));
    it(10, async () => {
      const res = await ts.req('GET', `/v2/${repo}/blobs/${img0.config.digest}`);
      assertStatus(res, 200);
      assert.equal(digestOf(res.body), img0.config.digest);
    });
    it(11, async () => assertStatus(await ts.req('HEAD', `/v2/${repo}/manifests/${INVALID}`), 404));
    const headOk = async (ref: string, digest: string) => {
      const res = await ts.req('HEAD', `/v2/${repo}/manifests/${ref}`, { headers: { accept: MediaTypes.OciManifest } });
      assertStatus(res, 200);
      assert.equal(res.headers['docker-content-digest'], digest);
    };
    it(12, () => headOk(img0.manifest.digest, img0.manifest.digest));
    it(13, () => headOk(img1m.digest, img1m.digest));
    it(14, () => headOk(tag, img0.manifest.digest));
    it(15, async () => assertError(await ts.req('GET', `/v2/${repo}/manifests/${INVALID}`), 404, 'MANIFEST_UNKNOWN'));
    const getOk = async (ref: string, m: Content) => {
      const res = await ts.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept: MediaTypes.OciManifest } });
      assertStatus(res, 200);
      assert.deepEqual(res.body, m.bytes);
    };
    it(16, () => getOk(img0.manifest.digest, img0.manifest));
    it(17, () => getOk(img1m.digest, img1m));
    it(18, () => getOk(tag, img0.manifest));
    it(19, async () => {
      const res = await ts.req('PUT', `/v2/${repo}/manifests/sha256:totallywrong`, {
        headers: { 'content-type': MediaTypes.OciManifest },
        body: '{"schemaVersion":2,"this is":"not a manifest"}',
      });
      assertStatus(res, 400);
      assert.ok(errorCodes(res).length > 0);
      for (const e of res.json().errors) assert.equal(typeof e.message, 'string');
    });
    it(20, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${img0.manifest.digest}`)));
    it(21, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${img1m.digest}`)));
    it(22, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${img0.config.digest}`)));
    it(23, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${img1.config.digest}`)));
    it(24, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${layer.digest}`)));
  });

  describe('Push', () => {
    const repo = uniqueRepo('conf-push');
    const crossRepo = uniqueRepo('conf-cross');
    const streamed = content(randomBlob(300));
    const mono = content(randomBlob(200));
    const img = makeImage();
    const layer = img.layers[0]!;
    const chunkA = randomBlob(100);
    const chunkB = randomBlob(77);
    const chunked = content(Buffer.concat([chunkA, chunkB]));
    let loc = '';
    let lastMount: Res | undefined;

    it(25, async () => {
      const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
      assertStatus(post, 202);
      const patch = await ts.req('PATCH', String(post.headers.location), { headers: OCTET, body: [streamed.bytes] });
      assertStatus(patch, 202);
      loc = String(patch.headers.location);
      assert.ok(loc);
    });
    it(26, async () => {
      const res = await ts.req('PUT', `${loc}?digest=${streamed.digest}`);
      assertStatus(res, 201);
      assert.equal(res.headers.location, `/v2/${repo}/blobs/${streamed.digest}`);
    });
    it(27, async () => assertStatus(await ts.req('GET', `/v2/${repo}/blobs/${DUMMY}`), 404));
    let monoStatus = 0;
    it(28, async () => {
      const res = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${mono.digest}`, {
        headers: OCTET,
        body: mono.bytes,
      });
      assert.ok([201, 202].includes(res.status), `got ${res.status}`);
      assert.ok(res.headers.location);
      monoStatus = res.status;
    });
    it(29, async () =>
      assertStatus(await ts.req('GET', `/v2/${repo}/blobs/${mono.digest}`), monoStatus === 201 ? 200 : 404),
    );
    it(30, async () => {
      const res = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
      assertStatus(res, 202);
      loc = String(res.headers.location);
      assert.match(loc, /^\/v2\/.+\/blobs\/uploads\/[^/]+$/);
    });
    it(31, async () => {
      const res = await ts.req('PUT', `${loc}?digest=${img.config.digest}`, { headers: OCTET, body: img.config.bytes });
      assertStatus(res, 201);
      assert.ok(res.headers.location);
    });
    it(32, async () => assertStatus(await ts.req('GET', `/v2/${repo}/blobs/${img.config.digest}`), 200));
    it(33, async () => void (await upload(ts, repo, layer)));
    it(34, async () => assertStatus(await ts.req('GET', `/v2/${repo}/blobs/${layer.digest}`), 200));
    it(35, async () => {
      const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
      assertStatus(post, 202);
      loc = String(post.headers.location);
      const range = `${chunkA.length}-${chunkA.length + chunkB.length - 1}`;
      const res = await ts.req('PATCH', loc, { headers: { ...OCTET, 'content-range': range }, body: chunkB });
      assertStatus(res, 416);
    });
    it(36, async () => {
      const res = await ts.req('PATCH', loc, {
        headers: { ...OCTET, 'content-range': `0-${chunkA.length - 1}` },
        body: chunkA,
      });
      assertStatus(res, 202);
      assert.equal(res.headers.range, `0-${chunkA.length - 1}`);
      loc = String(res.headers.location);
    });
    it(37, async () => {
      const res = await ts.req('PATCH', loc, {
        headers: { ...OCTET, 'content-range': `0-${chunkA.length - 1}` },
        body: chunkA,
      });
      assertStatus(res, 416);
    });
    it(38, async () => {
      const res = await ts.req('GET', loc);
      assertStatus(res, 204);
      assert.equal(res.headers.range, `0-${chunkA.length - 1}`);
      assert.ok(res.headers.location);
    });
    it(39, async () => {
      const range = `${chunkA.length}-${chunked.size - 1}`;
      const res = await ts.req('PATCH', loc, { headers: { ...OCTET, 'content-range': range }, body: chunkB });
      assertStatus(res, 202);
      loc = String(res.headers.location);
    });
    it(40, async () => {
      const res = await ts.req('PUT', `${loc}?digest=${chunked.digest}`);
      assertStatus(res, 201);
      assert.equal(res.headers.location, `/v2/${repo}/blobs/${chunked.digest}`);
    });
    it(41, async () => {
      const res = await ts.req('POST', `/v2/${crossRepo}/blobs/uploads/?mount=${DUMMY}`);
      assertStatus(res, 202);
      assert.ok(res.headers.location);
    });
    it(42, async () => {
      lastMount = await ts.req('POST', `/v2/${crossRepo}/blobs/uploads/?mount=${mono.digest}&from=${repo}`);
      assertStatus(lastMount, 201);
      assert.equal(lastMount.headers.location, `/v2/${crossRepo}/blobs/${mono.digest}`);
    });
    it(43, async () => {
      const res = await ts.req('GET', `/v2/${crossRepo}/blobs/${mono.digest}`);
      assertStatus(res, 200);
      assert.deepEqual(res.body, mono.bytes);
    });
    it(44, async () => {
      const res = await ts.req('POST', `/v2/${crossRepo}/blobs/uploads/?mount=${DUMMY}&from=${repo}`);
      assertStatus(res, 202);
      assert.ok(res.headers.location);
    });
    // The suite mounts into its cross-mount namespace; a fresh one also proves the blob was found elsewhere.
    const discover = async (target: string) => ts.req('POST', `/v2/${target}/blobs/uploads/?mount=${mono.digest}`);
    it(45, async () => {
      assertStatus(await discover(crossRepo), 201);
      const fresh = uniqueRepo('conf-discovered');
      const res = await discover(fresh);
      assertStatus(res, 201);
      assert.equal(res.headers.location, `/v2/${fresh}/blobs/${mono.digest}`);
      assertStatus(await ts.req('GET', `/v2/${fresh}/blobs/${mono.digest}`), 200);
    });
    it(46, async () => {
      const fresh = uniqueRepo('conf-undiscovered');
      for (const target of [crossRepo, fresh]) {
        const res = await discover(target);
        assertStatus(res, 202);
        assert.match(String(res.headers.location), /\/blobs\/uploads\/[^/]+$/);
      }
      assertStatus(await ts.req('GET', `/v2/${fresh}/blobs/${mono.digest}`), 404);
    });
    it(47, async () => assertStatus(await ts.req('GET', `/v2/${repo}/manifests/${INVALID}`), 404));
    it(48, async () => {
      const res = await putManifest(ts, repo, 'tagtest0', img.manifest);
      assert.equal(res.headers['docker-content-digest'], img.manifest.digest);
    });
    const empty: TestImage = makeImage({ layers: 0 });
    it(49, async () => {
      await upload(ts, repo, empty.config);
      const res = await putManifest(ts, repo, empty.manifest.digest, empty.manifest);
      assert.equal(res.headers.location, `/v2/${repo}/manifests/${empty.manifest.digest}`);
    });
    it(50, async () => {
      const res = await ts.req('GET', `/v2/${repo}/manifests/${img.manifest.digest}`, {
        headers: { accept: MediaTypes.OciManifest },
      });
      assertStatus(res, 200);
      assert.deepEqual(res.body, img.manifest.bytes);
    });
    it(51, async () => {
      assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`));
      assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${empty.manifest.digest}`));
    });
    it(52, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${img.config.digest}`)));
    it(53, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${layer.digest}`)));
  });

  describe('Content Discovery', () => {
    const repo = uniqueRepo('conf-disc');
    const img = makeImage();
    const tags = ['test0', 'test1', 'test2', 'test3'];
    const subject = makeImage();
    const sbom = makeReferrer(subject.manifest, 'application/vnd.conformance.sbom');
    const sig = makeReferrer(subject.manifest, 'application/vnd.conformance.sig');
    const absent = content(Buffer.from('{"a manifest":"never pushed"}'), MediaTypes.OciManifest);
    const orphanRef = makeReferrer(absent, 'application/vnd.conformance.sbom');
    const referrers = async (d: string, q = '') => {
      const res = await ts.req('GET', `/v2/${repo}/referrers/${d}${q}`);
      assertStatus(res, 200);
      assert.equal(res.headers['content-type'], MediaTypes.OciIndex);
      return res;
    };
    it(54, async () => void (await upload(ts, repo, img.config)));
    it(55, async () => void (await upload(ts, repo, img.layers[0]!)));
    it(56, async () => {
      for (const t of tags) await putManifest(ts, repo, t, img.manifest);
    });
    it(57, async () => assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list`)).json().tags, tags));
    it(58, async () => {
      for (const im of [subject, sbom, sig, orphanRef]) {
        for (const b of [im.config, ...im.layers]) await upload(ts, repo, b);
      }
      await putManifest(ts, repo, subject.manifest.digest, subject.manifest);
      for (const r of [sbom, sig, orphanRef]) {
        const res = await putManifest(ts, repo, r.manifest.digest, r.manifest);
        assert.equal(res.headers['oci-subject'], r === orphanRef ? absent.digest : subject.manifest.digest);
      }
    });
    it(59, async () => {
      const res = await ts.req('GET', `/v2/${repo}/tags/list`);
      assertStatus(res, 200);
      assert.deepEqual(res.json(), { name: repo, tags });
    });
    it(60, async () => {
      const res = await ts.req('GET', `/v2/${repo}/tags/list?n=2`);
      assertStatus(res, 200);
      assert.deepEqual(res.json().tags, tags.slice(0, 2));
    });
    it(61, async () => {
      const res = await ts.req('GET', `/v2/${repo}/tags/list?n=2&last=${tags[1]}`);
      assertStatus(res, 200);
      assert.deepEqual(res.json().tags, tags.slice(2, 4));
    });
    it(62, async () => assert.deepEqual((await referrers(DUMMY)).json().manifests, []));
    it(63, async () => {
      const got = (await referrers(subject.manifest.digest)).json().manifests.map((m: { digest: string }) => m.digest);
      assert.deepEqual(got.sort(), [sbom.manifest.digest, sig.manifest.digest].sort());
    });
    it(64, async () => {
      const res = await referrers(
        subject.manifest.digest,
        `?artifactType=${encodeURIComponent('application/vnd.conformance.sbom')}`,
      );
      assert.equal(res.headers['oci-filters-applied'], 'artifactType');
      assert.deepEqual(
        res.json().manifests.map((m: { digest: string }) => m.digest),
        [sbom.manifest.digest],
      );
    });
    it(65, async () => {
      const got = (await referrers(absent.digest)).json().manifests;
      assert.deepEqual(
        got.map((m: { digest: string }) => m.digest),
        [orphanRef.manifest.digest],
      );
    });
    it(66, async () => {
      for (const t of tags) assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${t}`));
      assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`));
    });
    it(67, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${img.config.digest}`)));
    it(68, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${img.layers[0]!.digest}`)));
    it(69, async () => {
      for (const m of [sbom, sig, orphanRef, subject])
        assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${m.manifest.digest}`));
      assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${EMPTY_CONFIG.digest}`));
    });
  });

  describe('Content Management', () => {
    const repo = uniqueRepo('conf-mgmt');
    const img = makeImage();
    let before = 0;
    it(70, async () => void (await upload(ts, repo, img.config)));
    it(71, async () => void (await upload(ts, repo, img.layers[0]!)));
    it(72, async () => {
      await putManifest(ts, repo, 'tagtest0', img.manifest);
      await putManifest(ts, repo, 'tagtest1', img.manifest);
    });
    it(73, async () => {
      const res = await ts.req('GET', `/v2/${repo}/tags/list`);
      assertStatus(res, 200);
      before = res.json().tags.length;
      assert.equal(before, 2);
    });
    it(74, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/tagtest0`)));
    it(75, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`)));
    it(76, async () =>
      assertError(await ts.req('GET', `/v2/${repo}/manifests/${img.manifest.digest}`), 404, 'MANIFEST_UNKNOWN'),
    );
    it(77, async () => {
      // 200 with fewer tags, or 404 once the repository has none (as the suite allows).
      const res = await ts.req('GET', `/v2/${repo}/tags/list`);
      assert.ok([200, 404].includes(res.status), `got ${res.status}`);
      const left: string[] = res.status === 200 ? res.json().tags : [];
      assert.ok(left.length < before);
      assert.ok(!left.includes('tagtest0'));
    });
    it(78, async () => assertDeleted(await ts.req('DELETE', `/v2/${repo}/blobs/${img.config.digest}`)));
    it(79, async () => assertError(await ts.req('GET', `/v2/${repo}/blobs/${img.config.digest}`), 404, 'BLOB_UNKNOWN'));
  });
}
