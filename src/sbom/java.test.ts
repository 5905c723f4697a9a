import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveImage } from '../analysis/resolve.js';
import { OciLayout } from '../transports/layout/index.js';
import { writeLayoutImage } from '../test/sbom-fixtures.js';
import { catalogImage } from './catalog.js';

const dir = tempDir('kura-java-');
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Builds a war with Python's zipfile (deflate): its own pom.properties, a nested jar with another, and a jar with only
 * a MANIFEST.MF.
 */
const MAKE = `
import io, sys, zipfile
def jar(entries):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
        for n, d in entries: z.writestr(n, d)
    return b.getvalue()
inner = jar([('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\nBundle-License: Apache-2.0\\n\\n'),
             ('META-INF/maven/com.example.lib/inner-lib/pom.properties',
              '#Generated\\ngroupId=com.example.lib\\nartifactId=inner-lib\\nversion=2.5.1\\n')])
plain = jar([('META-INF/MANIFEST.MF',
              'Manifest-Version: 1.0\\nImplementation-Title: nameless\\nImplementation-Version: 9\\n\\n')])
war = jar([('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n\\n'),
           ('META-INF/maven/org.example/shop/pom.properties',
            'groupId=org.example\\nartifactId=shop\\nversion=1.0.0-SNAPSHOT\\n'),
           ('WEB-INF/lib/inner-lib-2.5.1.jar', inner), ('WEB-INF/lib/nameless.jar', plain)])
open(sys.argv[1], 'wb').write(war)
`;
import { tempDir } from '../test/tempdirs.js';

test(
  'java: pom.properties of an archive and of the archives nested in it; a MANIFEST-only jar gives no ' + 'package',
  async () => {
    execFileSync('python3', ['-c', MAKE, join(dir, 'shop.war')]);
    await writeLayoutImage(join(dir, 'layout'), 'v1', [
      { 'opt/app/shop.war': readFileSync(join(dir, 'shop.war')), 'opt/app/broken.jar': 'not a zip' },
    ]);
    const sbom = await catalogImage(await resolveImage(await new OciLayout(join(dir, 'layout')).get('v1')));
    assert.deepEqual(
      sbom.packages.map((p) => [p.purl, p.locations[0], p.licenses]),
      [
        [
          'pkg:maven/com.example.lib/inner-lib@2.5.1',
          '/opt/app/shop.war:WEB-INF/lib/inner-lib-2.5.1.jar',
          ['Apache-2.0'],
        ],
        ['pkg:maven/org.example/shop@1.0.0-SNAPSHOT', '/opt/app/shop.war', []],
      ],
    );
    assert.match(sbom.warnings.join('\n'), /\/opt\/app\/broken\.jar in layer 0 is not a readable Java archive/);
  },
);
