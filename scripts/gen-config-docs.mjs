// Regenerates docs/configuration.md and src/config/flags.ts from the config schema (run after `npm run build`,
// then build again). A test fails while either is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { format } from 'prettier';
import { renderConfigReference, renderFlagTable } from '../dist/config/docs.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigReference());
const options = JSON.parse(readFileSync(new URL('../.prettierrc.json', import.meta.url), 'utf8'));
const flags = await format(renderFlagTable(), { ...options, parser: 'typescript' });
writeFileSync(new URL('../src/config/flags.ts', import.meta.url), flags);
