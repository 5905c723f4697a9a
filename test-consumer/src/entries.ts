// Every entry point of the package, imported by name as a user does; prints what each exports, one line each.
import * as root from 'ocikura';
import * as server from 'ocikura/server';
import * as testing from 'ocikura/testing';
import * as analysis from 'ocikura/analysis';
import * as sbom from 'ocikura/sbom';
import * as signing from 'ocikura/signing';

const entries = { ocikura: root, 'ocikura/server': server, 'ocikura/testing': testing, 'ocikura/analysis': analysis };
for (const [name, mod] of Object.entries({ ...entries, 'ocikura/sbom': sbom, 'ocikura/signing': signing }))
  console.log(`${name}: ${Object.keys(mod).sort().join(' ')}`);
