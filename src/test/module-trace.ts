/**
 * A preload for start-up tests: `node --import dist/test/module-trace.js …` records the URL of
 * every module the process resolves (ESM imports of ours and of packages), one a line, in the
 * file $KURA_MODULE_TRACE. Resolution hooks see every `import` and `import()`, including those of
 * CommonJS packages from our code, so a package we load lazily shows up exactly when it is loaded.
 */
import { register } from 'node:module';

if (process.env.KURA_MODULE_TRACE) register('./module-trace-hooks.js', import.meta.url);
