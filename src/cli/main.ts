#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { removeLiveTemps } from '../transports/temps.js';

type Register = (program: Command) => void;

/**
 * Commands by name, each loaded only when used: a `kura copy` does not pay for the server's
 * modules (fastify, SQLite, zod), which keeps start-up near Node's own.
 */
const COMMANDS: Record<string, () => Promise<Register[]>> = {
  serve: async () => [(await import('./serve.js')).registerServe],
  gc: async () => [(await import('./gc.js')).registerGc],
  fsck: async () => [(await import('./fsck.js')).registerFsck],
  policy: async () => [(await import('./policy.js')).registerPolicy],
  usage: async () => [(await import('./usage.js')).registerUsage],
  audit: async () => [(await import('./audit.js')).registerAudit],
  user: async () => [(await import('./accounts.js')).registerAccounts],
  token: async () => [(await import('./accounts.js')).registerAccounts],
  copy: async () => [(await import('./copy.js')).registerCopy],
  index: async () => [(await import('./index-create.js')).registerIndexCreate],
  pull: async () => [(await import('./pull.js')).registerPull],
  push: async () => [(await import('./pull.js')).registerPush],
  tag: async () => [(await import('./images.js')).registerTag],
  images: async () => [(await import('./images.js')).registerImages],
  rmi: async () => [(await import('./images.js')).registerRmi],
  image: async () => {
    const [images, prune] = await Promise.all([import('./images.js'), import('./prune.js')]);
    return [images.registerImages, images.registerRmi, prune.registerImagePrune];
  },
  save: async () => [(await import('./save-load.js')).registerSave],
  load: async () => [(await import('./save-load.js')).registerLoad],
  import: async () => [(await import('./import.js')).registerImport],
  inspect: async () => [(await import('./inspect.js')).registerInspect],
  config: async () => [(await import('./inspect.js')).registerConfig],
  digest: async () => [(await import('./inspect.js')).registerDigest],
  history: async () => [(await import('./history.js')).registerHistory],
  manifest: async () => [(await import('./manifest.js')).registerManifest],
  export: async () => [(await import('./export.js')).registerExport],
  layers: async () => [(await import('./layers.js')).registerLayers],
  ls: async () => [(await import('./files.js')).registerFiles],
  cat: async () => [(await import('./files.js')).registerFiles],
  cp: async () => [(await import('./files.js')).registerFiles],
  diff: async () => [(await import('./diff.js')).registerDiff],
  lint: async () => [(await import('./lint.js')).registerLint],
  ratelimit: async () => [(await import('./ratelimit.js')).registerRatelimit],
  tags: async () => [(await import('./repo.js')).registerTags],
  catalog: async () => [(await import('./repo.js')).registerCatalog],
  rm: async () => [(await import('./repo.js')).registerRm],
  login: async () => [(await import('./login.js')).registerLogin],
  logout: async () => [(await import('./login.js')).registerLogin],
  system: async () => [(await import('./prune.js')).registerSystemDf],
  key: async () => [(await import('./sign.js')).registerKey],
  sign: async () => [(await import('./sign.js')).registerSign],
  attest: async () => [(await import('./sign.js')).registerAttest],
  verify: async () => [(await import('./verify.js')).registerVerify],
  'verify-attestation': async () => [(await import('./verify.js')).registerVerifyAttestation],
  tree: async () => [(await import('./verify.js')).registerTree],
  sbom: async () => [(await import('./sbom.js')).registerSbom],
};

/** The one error boundary of the CLI: a line that names the fix, and a non-zero exit code. */
async function fail(e: unknown): Promise<never> {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  const err = e as NodeJS.ErrnoException;
  let msg: string;
  const { ConfigError } = await import('../config/load.js');
  if (e instanceof ConfigError) msg = `${e.message} (see docs/configuration.md)`;
  else if (err?.code === 'EADDRINUSE') msg = `address already in use: ${err.message.replace(/^listen /, '')}; pick another with --listen HOST:PORT`;
  else if (err?.code === 'EACCES') msg = `permission denied: ${err.message}; check the --data directory or use a port above 1023`;
  else msg = err?.message ?? String(e);
  process.stderr.write(`kura: error: ${msg.split('\n')[0]}\n`);
  process.exit(1);
}

/**
 * commander's usage errors ("error: unknown option", "(Did you mean copy?)") as the one
 * `kura: error: …` line every other error is, naming the help of the command that was used.
 */
function usageErrorsAsOneLine(cmd: Command, path = 'kura'): void {
  cmd.configureOutput({
    outputError: (str, write) => {
      const lines = str.trim().split('\n');
      const nearest = lines.map((l) => /^\(Did you mean (.+)\?\)$/.exec(l)?.[1]).find(Boolean);
      const msg = lines[0]!.replace(/^error: /, '');
      write(`kura: error: ${msg}${nearest ? ` (did you mean ${nearest}?)` : ''}; run "${path} --help" for usage\n`);
    },
  });
  for (const sub of cmd.commands) usageErrorsAsOneLine(sub, `${path} ${sub.name()}`);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('kura')
    .description('Kura: container images without a Docker daemon — registry, toolkit and library')
    .version('0.1.0')
    .exitOverride();
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  const wanted = name && COMMANDS[name] ? [COMMANDS[name]] : Object.values(COMMANDS);
  const seen = new Set<Register>();
  for (const load of wanted) {
    for (const register of await load()) {
      if (seen.has(register)) continue;
      seen.add(register);
      register(program);
    }
  }
  usageErrorsAsOneLine(program);
  await program.parseAsync(argv);
  // A command's work is done when its action resolves (serve's is its server, which stays up). A
  // leftover handle (a keep-alive socket, a helper's pipe) must not keep a CLI waiting.
  if (name !== 'serve') setTimeout(() => process.exit(), 2000).unref();
}

// Temporary files of writes cut short: the library tracks them, the application removes them.
process.once('exit', removeLiveTemps);
main(process.argv).catch(fail);
