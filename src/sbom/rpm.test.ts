import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveImage } from '../analysis/resolve.js';
import { OciLayout } from '../transports/layout/index.js';
import { hasTool } from '../test/kura-process.js';
import { rpmbuild, rpmdb } from '../test/rpm-fixtures.js';
import { writeLayoutImage } from '../test/sbom-fixtures.js';
import { catalogImage } from './catalog.js';
import { tempDir } from '../test/tempdirs.js';

const skip = hasTool('rpmbuild') ? false : 'rpmbuild is missing (apt-get install rpm)';
const dir = tempDir('kura-rpm-');
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'rpm: the SQLite rpmdb, every package rpm -qa lists with epoch, source rpm and license, and the layer that added it',
  { skip },
  async () => {
    const a = rpmbuild(dir, 'kura-base', '1.2', '3.el9', { epoch: 2, license: 'MIT' });
    const b = rpmbuild(dir, 'kura-tool', '0.9.1', '1.el9', { license: 'GPL-2.0-or-later', requires: 'kura-base' });
    const db0 = rpmdb(join(dir, 'db0'), [a]);
    const db1 = rpmdb(join(dir, 'db1'), [a, b]);
    const truth = execFileSync(
      'rpm',
      ['--dbpath', join(dir, 'db1'), '-qa', '--qf', '%{NAME}|%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .sort();
    const os = 'ID="rhel"\nVERSION_ID="9.3"\n';
    await writeLayoutImage(join(dir, 'layout'), 'v1', [
      { 'etc/os-release': os, 'var/lib/rpm/rpmdb.sqlite': db0 },
      { 'var/lib/rpm/rpmdb.sqlite': db1, 'var/lib/rpm/Packages': 'not a database' },
    ]);
    const sbom = await catalogImage(await resolveImage(await new OciLayout(join(dir, 'layout')).get('v1')));
    const rpms = sbom.packages.filter((p) => p.type === 'rpm');
    assert.deepEqual(rpms.map((p) => `${p.name}|${p.version}`).sort(), truth);
    const base = rpms.find((p) => p.name === 'kura-base')!;
    const tool = rpms.find((p) => p.name === 'kura-tool')!;
    assert.equal(
      base.purl,
      'pkg:rpm/rhel/kura-base@1.2-3.el9?arch=noarch&distro=rhel-9.3&epoch=2&upstream=kura-base-1.2-3.el9.src.rpm',
    );
    assert.deepEqual([base.layer, tool.layer], [0, 1]);
    assert.deepEqual([base.licenses, tool.licenses], [['MIT'], ['GPL-2.0-or-later']]);
    assert.ok(tool.dependsOn?.includes('kura-base'));
    assert.match(
      sbom.warnings.join('\n'),
      /\/var\/lib\/rpm\/Packages in layer 1 is not a readable rpm database \(unknown database format\)/,
    );
  },
);

test('rpm --files: the files each header lists, with its digests, as rpm -q lists them', { skip }, async () => {
  const pkg = rpmbuild(dir, 'kura-files', '1.0', '1', {
    license: 'MIT',
    files: { '/usr/share/kura/a.txt': 'hello', '/etc/kura.conf': 'x=1' },
  });
  const dbpath = join(dir, 'db-files');
  const db = rpmdb(dbpath, [pkg]);
  const truth = execFileSync(
    'rpm',
    ['--dbpath', dbpath, '-q', '--qf', '[%{FILENAMES}|%{FILEDIGESTS}\n]', 'kura-files'],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .map((l) => l.split('|') as [string, string]);
  const algo = execFileSync('rpm', ['--dbpath', dbpath, '-q', '--qf', '%{FILEDIGESTALGO}', 'kura-files'], {
    encoding: 'utf8',
  });
  assert.equal(algo, '8', 'Debian rpm writes SHA-256 file digests');
  await writeLayoutImage(join(dir, 'layout-files'), 'v1', [{ 'var/lib/rpm/rpmdb.sqlite': db }]);
  const r = await resolveImage(await new OciLayout(join(dir, 'layout-files')).get('v1'));
  const p = (await catalogImage(r, { files: true })).packages.find((x) => x.name === 'kura-files')!;
  assert.deepEqual(
    p.files,
    truth.map(([path, sum]) => (sum ? { path, checksums: [{ algorithm: 'SHA256', value: sum }] } : { path })),
  );
  assert.equal(
    p.files!.find((f) => f.path === '/usr/share/kura/a.txt')!.checksums![0]!.value,
    createHash('sha256').update('hello').digest('hex'),
  );
  assert.equal((await catalogImage(r)).packages.find((x) => x.name === 'kura-files')!.files, undefined);
});
