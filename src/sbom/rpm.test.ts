import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveImage } from '../analysis/resolve.js';
import { OciLayout } from '../transports/layout/index.js';
import { hasTool } from '../test/kura-process.js';
import { writeLayoutImage } from '../test/sbom-fixtures.js';
import { catalogImage } from './catalog.js';
import { tempDir } from '../test/tempdirs.js';

const require = createRequire(import.meta.url);
const skip = hasTool('rpmbuild') ? false : 'rpmbuild is missing (apt-get install rpm)';
const dir = tempDir('kura-rpm-');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Builds a noarch rpm with rpmbuild (Debian's rpm package). */
function rpmbuild(
  name: string,
  version: string,
  release: string,
  o: { epoch?: number; license: string; requires?: string },
): string {
  mkdirSync(join(dir, 'SPECS'), { recursive: true });
  const spec = join(dir, 'SPECS', `${name}.spec`);
  writeFileSync(
    spec,
    `Name: ${name}\nVersion: ${version}\nRelease: ` +
      `${release}\n${o.epoch !== undefined ? `Epoch: ${o.epoch}\n` : ''}Summary: ${name} for kura\nLicense: ` +
      `${o.license}\nBuildArch: ` +
      `noarch\n${o.requires ? `Requires: ${o.requires}\n` : ''}%description\nfixture\n%files\n`,
  );
  execFileSync('rpmbuild', ['--quiet', '--define', `_topdir ${dir}`, '-bb', spec], { stdio: 'ignore' });
  return join(
    dir,
    'RPMS',
    'noarch',
    readdirSync(join(dir, 'RPMS', 'noarch')).find((f) => f.startsWith(`${name}-${version}`))!,
  );
}

/** Installs rpms into a fresh SQLite rpmdb (--justdb) and returns the database file, checkpointed into one file. */
function rpmdb(dbpath: string, rpms: string[]): Buffer {
  mkdirSync(dbpath, { recursive: true });
  execFileSync('rpm', ['--dbpath', dbpath, '--initdb']);
  if (rpms.length)
    execFileSync('rpm', ['--dbpath', dbpath, '-i', '--justdb', '--nodeps', '--ignorearch', ...rpms], {
      stdio: 'ignore',
    });
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(join(dbpath, 'rpmdb.sqlite'));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('journal_mode = DELETE');
  db.close();
  return readFileSync(join(dbpath, 'rpmdb.sqlite'));
}

test(
  'rpm: the SQLite rpmdb, every package rpm -qa lists with epoch, source rpm and license, and the layer that added it',
  { skip },
  async () => {
    const a = rpmbuild('kura-base', '1.2', '3.el9', { epoch: 2, license: 'MIT' });
    const b = rpmbuild('kura-tool', '0.9.1', '1.el9', { license: 'GPL-2.0-or-later', requires: 'kura-base' });
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
      { 'var/lib/rpm/rpmdb.sqlite': db1, 'var/lib/rpm/Packages': 'old bdb' },
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
      /\/var\/lib\/rpm\/Packages in layer 1 is a BerkeleyDB\/NDB rpm database, which kura does not read yet/,
    );
  },
);
