import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveImage } from '../analysis/resolve.js';
import { OciLayout } from '../transports/layout/index.js';
import {
  copyNodeModules,
  dpkgQuery,
  realCopyrights,
  realDpkgStatus,
  treeEntries,
  writeLayoutImage,
  type LayerSpec,
} from '../test/sbom-fixtures.js';
import { REPO_ROOT } from '../test/kura-process.js';
import { catalogImage } from './catalog.js';
import { toCycloneDx } from './cyclonedx.js';
import { copyrightLicenses, parseDpkgStatus } from './dpkg.js';
import { spdxExpression } from './licenses.js';
import type { Sbom } from './model.js';
import { parseOsRelease } from './osrelease.js';
import { toSpdx } from './spdx.js';
import { tempDir } from '../test/tempdirs.js';

const require = createRequire(import.meta.url);
const dir = tempDir('kura-sbom-');
const layoutDir = join(dir, 'layout');
const SCHEMA = '/work/shared/fixtures/schemas/spdx-2.3.schema.json';
const PY = '/usr/lib/python3/dist-packages';
const pyKept = existsSync(PY)
  ? readdirSync(PY)
      .filter((n) => /\.(dist-info|egg-info)$/.test(n))
      .slice(0, 12)
  : [];
const pyRemoved = pyKept[0];
const status = realDpkgStatus(500);
const BASH_LIST = '/var/lib/dpkg/info/bash.list';
const NODE_PKGS = ['commander', 'semver', 'tar-stream', 'packageurl-js'];

let sbom: Sbom;
before(async () => {
  const layer0: LayerSpec = {
    'etc/os-release': readFileSync('/etc/os-release'),
    'var/lib/dpkg/status': status.first,
    ...realCopyrights(['bash', 'coreutils', 'libc6', 'zlib1g', 'tar', 'gzip']),
    ...(existsSync(BASH_LIST) ? { 'var/lib/dpkg/info/bash.list': readFileSync(BASH_LIST) } : {}),
  };
  for (const n of pyKept) {
    const p = join(PY, n);
    Object.assign(
      layer0,
      statSync(p).isDirectory()
        ? treeEntries(p, `usr/lib/python3/dist-packages/${n}`)
        : { [`usr/lib/python3/dist-packages/${n}`]: readFileSync(p) },
    );
  }
  const app = join(dir, 'app');
  copyNodeModules(REPO_ROOT, NODE_PKGS, app);
  const layer1: LayerSpec = {
    'var/lib/dpkg/status': status.all,
    ...treeEntries(app, 'app'),
    ...(pyRemoved ? { [`usr/lib/python3/dist-packages/${pyRemoved}`]: null } : {}),
  };
  // A non-Go executable: no package comes from it.
  layer1['usr/bin/dpkg-query'] = { mode: 0o755, data: readFileSync('/usr/bin/dpkg-query') };
  await writeLayoutImage(layoutDir, 'v1', [layer0, layer1]);
  const layout = new OciLayout(layoutDir);
  sbom = await catalogImage(await resolveImage(await layout.get('v1')), { name: 'fixture:v1' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('dpkg', () => {
  test(
    'every installed package of a real status file, with exact versions (epochs kept), as dpkg-query lists ' + 'them',
    () => {
      const admin = join(dir, 'dpkg');
      mkdirSync(admin, { recursive: true });
      writeFileSync(join(admin, 'status'), status.all);
      const truth = dpkgQuery(join(admin, 'status'));
      const found = new Map(sbom.packages.filter((p) => p.type === 'deb').map((p) => [p.name, p.version]));
      assert.ok(truth.size > 50, `dpkg-query found ${truth.size} packages`);
      assert.deepEqual([...found].sort(), [...truth].sort());
      assert.ok(
        [...truth.values()].some((v) => /^\d+:/.test(v)),
        'the fixture has epoch versions',
      );
    },
  );

  test('the layer that added a package: the first of the layers whose status lists it', () => {
    const inFirst = new Set(parseDpkgStatus(status.first).map((s) => s.name));
    for (const p of sbom.packages.filter((x) => x.type === 'deb'))
      assert.equal(p.layer, inFirst.has(p.name) ? 0 : 1, p.name);
    assert.ok(sbom.packages.some((p) => p.type === 'deb' && p.layer === 1));
  });

  test(
    'PURLs follow clients.md §2.9: pkg:deb/<id>/<name>@<ver>?arch=&distro=<ID>-<VERSION_ID>, upstream for a ' +
      'differing source',
    () => {
      const d = parseOsRelease(readFileSync('/etc/os-release', 'utf8'))!;
      const stanzas = parseDpkgStatus(status.all);
      for (const p of sbom.packages.filter((x) => x.type === 'deb')) {
        const s = stanzas.find((x) => x.name === p.name)!;
        const src = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(s.fields.get('Source') ?? '');
        const upstream = src
          ? src[2] && src[2] !== s.version
            ? `${src[1]}@${src[2]}`
            : src[1] !== s.name
              ? src[1]
              : undefined
          : undefined;
        const [head, query] = p.purl.split('?') as [string, string];
        assert.equal(decodeURIComponent(head), `pkg:deb/${d.id}/${p.name}@${s.version}`, p.name);
        const quals = Object.fromEntries(
          query.split('&').map((kv) => kv.split('=').map(decodeURIComponent) as [string, string]),
        );
        assert.deepEqual(
          quals,
          { arch: s.arch, distro: `${d.id}-${d.versionId}`, ...(upstream ? { upstream } : {}) },
          p.name,
        );
      }
    },
  );

  test(
    '--files: the files dpkg lists for a package, only when asked for',
    { skip: existsSync(BASH_LIST) ? false : `no ${BASH_LIST} here` },
    async () => {
      const withFiles = await catalogImage(await resolveImage(await new OciLayout(layoutDir).get('v1')), {
        files: true,
      });
      const bash = withFiles.packages.find((p) => p.name === 'bash' && p.type === 'deb')!;
      assert.deepEqual(
        bash.files?.map((f) => f.path),
        readFileSync(BASH_LIST, 'utf8')
          .split('\n')
          .filter((l) => l && l !== '/.'),
      );
      assert.equal(sbom.packages.find((p) => p.name === 'bash')!.files, undefined);
    },
  );

  test(
    'licenses come from machine-readable copyright files as SPDX ids',
    { skip: existsSync('/usr/share/doc/bash/copyright') ? false : 'no /usr/share/doc/bash/copyright on this machine' },
    () => {
      const bash = sbom.packages.find((p) => p.name === 'bash' && p.type === 'deb');
      assert.ok(bash, 'bash is installed on this machine');
      assert.ok(bash.licenses.includes('GPL-3.0-or-later'), bash.licenses.join(','));
      assert.deepEqual(copyrightLicenses('no format line\nLicense: GPL-2\n'), []);
      assert.equal(spdxExpression('GPL-2+ or Artistic'), 'GPL-2.0-or-later OR Artistic-1.0-Perl');
      assert.equal(spdxExpression('MIT BSD'), undefined);
    },
  );
});

describe('npm and python', () => {
  test('npm: every installed package as `npm ls --all` reports it', () => {
    const ls = JSON.parse(
      execFileSync('npm', ['ls', '--all', '--json'], { cwd: join(dir, 'app'), encoding: 'utf8' }),
    ) as { dependencies?: Record<string, { version: string; dependencies?: object }> };
    const truth = new Set<string>();
    const walk = (deps: Record<string, { version: string; dependencies?: object }> | undefined) => {
      for (const [n, v] of Object.entries(deps ?? {})) {
        // npm ls names missing optional peers too, without a version: they are not installed.
        if (v.version) truth.add(`${n}@${v.version}`);
        walk(v.dependencies as Record<string, { version: string }>);
      }
    };
    walk(ls.dependencies);
    const found = new Set(sbom.packages.filter((p) => p.type === 'npm').map((p) => `${p.name}@${p.version}`));
    assert.deepEqual([...found].sort(), [...truth].sort());
    const s = sbom.packages.find((p) => p.name === 'tar-stream')!;
    assert.equal(s.purl, `pkg:npm/tar-stream@${s.version}`);
    assert.equal(s.layer, 1);
  });

  test(
    'python: the distributions importlib.metadata finds, less the one a whiteout removed',
    { skip: pyKept.length ? false : `no ${PY} here` },
    () => {
      const site = join(dir, 'site');
      mkdirSync(site);
      for (const n of pyKept.slice(1)) cpSync(join(PY, n), join(site, n), { recursive: true, dereference: true });
      const out = execFileSync(
        'python3',
        [
          '-c',
          'import importlib.metadata as m, sys\nfor d in m.distributions(path=[sys.argv[1]]): ' +
            'print(d.metadata["Name"] + "@" + d.version)',
          site,
        ],
        { encoding: 'utf8' },
      );
      const truth = new Set(out.trim().split('\n').filter(Boolean));
      const found = new Set(sbom.packages.filter((p) => p.type === 'python').map((p) => `${p.name}@${p.version}`));
      assert.deepEqual([...found].sort(), [...truth].sort());
      for (const p of sbom.packages.filter((x) => x.type === 'python')) assert.match(p.purl, /^pkg:pypi\/[a-z0-9-]+@/);
    },
  );

  test('an ELF that is not a Go binary yields no package; nothing comes from file names', () => {
    assert.equal(sbom.packages.filter((p) => p.type === 'go').length, 0);
    assert.deepEqual(
      new Set(sbom.packages.map((p) => p.type)),
      new Set(['deb', 'npm', ...(pyKept.length ? ['python'] : [])]),
    );
  });
});

describe('documents', () => {
  test(
    'SPDX 2.3 JSON validates against the published schema',
    { skip: existsSync(SCHEMA) ? false : `${SCHEMA} is missing (the team's shared fixtures)` },
    () => {
      const Ajv = require('ajv') as typeof import('ajv').default;
      const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;
      const ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as { $schema?: string };
      delete schema.$schema;
      const validate = ajv.compile(schema);
      const doc = toSpdx(sbom) as { packages: { SPDXID: string }[]; relationships: { relationshipType: string }[] };
      assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 3)));
      assert.equal(doc.packages.length, sbom.packages.length + 1);
      assert.equal(new Set(doc.packages.map((p) => p.SPDXID)).size, doc.packages.length, 'SPDX ids are unique');
      assert.ok(doc.relationships.some((r) => r.relationshipType === 'DEPENDS_ON'));
    },
  );

  for (const version of ['1.6', '1.5'] as const) {
    test(`CycloneDX ${version} passes the library's strict validator`, async () => {
      const { Validation, Spec } = await import('@cyclonedx/cyclonedx-library');
      const json = toCycloneDx(sbom, version);
      const err = await new Validation.JsonStrictValidator(
        version === '1.6' ? Spec.Version.v1dot6 : Spec.Version.v1dot5,
      ).validate(json);
      assert.equal(err, null, JSON.stringify(err)?.slice(0, 500));
      const doc = JSON.parse(json) as {
        specVersion: string;
        components: { purl?: string }[];
        dependencies?: unknown[];
      };
      assert.equal(doc.specVersion, version);
      assert.equal(doc.components.filter((c) => c.purl).length, sbom.packages.length);
      assert.ok(doc.dependencies?.length);
    });
  }
});
