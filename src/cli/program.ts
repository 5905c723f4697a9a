/** The kura program: the command table (each command loaded only when used) and how a command line picks from it. */
import { readFileSync } from 'node:fs';
import { Command, Help } from 'commander';

type Register = (program: Command) => void;
type Load = () => Promise<Register[]>;

/** A command of the table: its usage term and one-line summary (for `kura --help`), and its module. */
interface Entry {
  term: string;
  summary: string;
  load: Load;
}

// One loader per command module. Nothing here imports a command module at start-up: `kura
// --version`, `kura --help` and `kura copy --help` load only commander and what they show.
const m = {
  serve: async () => [(await import('./commands/serve.js')).registerServe],
  gc: async () => [(await import('./commands/gc.js')).registerGc],
  migrate: async () => [(await import('./commands/migrate.js')).registerMigrate],
  fsck: async () => [(await import('./commands/fsck.js')).registerFsck],
  policy: async () => [(await import('./commands/policy.js')).registerPolicy],
  usage: async () => [(await import('./commands/usage.js')).registerUsage],
  audit: async () => [(await import('./commands/audit.js')).registerAudit],
  accounts: async () => [(await import('./commands/accounts.js')).registerAccounts],
  copy: async () => [(await import('./commands/copy.js')).registerCopy],
  sync: async () => [(await import('./commands/sync.js')).registerSync],
  index: async () => [
    (await import('./commands/index-create.js')).registerIndexCreate,
    (await import('./commands/index-edit.js')).registerIndexEdit,
  ],
  pull: async () => [(await import('./commands/pull.js')).registerPull],
  push: async () => [(await import('./commands/pull.js')).registerPush],
  tag: async () => [(await import('./commands/images.js')).registerTag],
  images: async () => [(await import('./commands/images.js')).registerImages],
  rmi: async () => [(await import('./commands/images.js')).registerRmi],
  image: async () => {
    const [images, prune] = await Promise.all([import('./commands/images.js'), import('./commands/prune.js')]);
    return [images.registerImages, images.registerRmi, prune.registerImagePrune];
  },
  save: async () => [(await import('./commands/save-load.js')).registerSave],
  load: async () => [(await import('./commands/save-load.js')).registerLoad],
  import: async () => [(await import('./commands/import.js')).registerImport],
  build: async () => [(await import('./commands/build.js')).registerBuild],
  inspect: async () => [(await import('./commands/inspect.js')).registerInspect],
  config: async () => [(await import('./commands/inspect.js')).registerConfig],
  digest: async () => [(await import('./commands/inspect.js')).registerDigest],
  history: async () => [(await import('./commands/history.js')).registerHistory],
  manifest: async () => [(await import('./commands/manifest.js')).registerManifest],
  export: async () => [(await import('./commands/export.js')).registerExport],
  layers: async () => [(await import('./commands/layers.js')).registerLayers],
  files: async () => [(await import('./commands/files.js')).registerFiles],
  diff: async () => [(await import('./commands/diff.js')).registerDiff],
  lint: async () => [(await import('./commands/lint.js')).registerLint],
  ratelimit: async () => [(await import('./commands/ratelimit.js')).registerRatelimit],
  tags: async () => [(await import('./commands/repo.js')).registerTags],
  catalog: async () => [(await import('./commands/repo.js')).registerCatalog],
  rm: async () => [(await import('./commands/repo.js')).registerRm],
  login: async () => [(await import('./commands/login.js')).registerLogin],
  system: async () => [(await import('./commands/prune.js')).registerSystemDf],
  key: async () => [(await import('./commands/sign.js')).registerKey],
  sign: async () => [(await import('./commands/sign.js')).registerSign],
  attest: async () => [(await import('./commands/sign.js')).registerAttest],
  verify: async () => [(await import('./commands/verify.js')).registerVerify],
  verifyAttestation: async () => [(await import('./commands/verify.js')).registerVerifyAttestation],
  tree: async () => [(await import('./commands/verify.js')).registerTree],
  sbom: async () => [(await import('./commands/sbom.js')).registerSbom],
  scan: async () => [(await import('./commands/scan.js')).registerScan],
  db: async () => [(await import('./commands/db.js')).registerDb],
  ci: async () => [(await import('./commands/ci.js')).registerCi],
  mutate: async () => [(await import('./commands/mutate.js')).registerMutate],
  append: async () => [(await import('./commands/append.js')).registerAppend],
  rebase: async () => [(await import('./commands/rebase.js')).registerRebase],
  flatten: async () => [(await import('./commands/flatten.js')).registerFlatten],
} satisfies Record<string, Load>;

const o = '[options] ';
/**
 * Commands by name, in the order `kura --help` lists them. A test checks that each term is what
 * the command module registers. Add new commands here.
 */
export const COMMANDS: Record<string, Entry> = {
  serve: {
    term: 'serve [options]',
    summary: 'run the OCI registry (filesystem blobs + SQLite metadata under --data)',
    load: m.serve,
  },
  gc: { term: 'gc [options]', summary: 'delete unreferenced blobs, unrecorded bytes and stale uploads', load: m.gc },
  migrate: {
    term: 'migrate [options]',
    summary: "copy a registry's blobs, manifests, tags and accounts to other stores",
    load: m.migrate,
  },
  fsck: {
    term: 'fsck [options]',
    summary: 'check a data directory: rows without bytes, bytes without rows, corrupt blobs',
    load: m.fsck,
  },
  policy: { term: 'policy', summary: 'retention policies: see what they remove, then remove it', load: m.policy },
  usage: {
    term: 'usage [options]',
    summary: 'storage used per namespace (shared blobs once) and per repository',
    load: m.usage,
  },
  audit: {
    term: 'audit [options]',
    summary: 'show the audit trail (pushes, pulls, deletes, mounts, refused requests)',
    load: m.audit,
  },
  user: { term: 'user', summary: 'users kept in the registry (enable with auth.accounts: true)', load: m.accounts },
  token: { term: 'token', summary: 'robot tokens for CI', load: m.accounts },
  copy: {
    term: `copy ${o}<src> <dst>`,
    summary: 'copy an image, with every platform of an index, between any two locations',
    load: m.copy,
  },
  sync: {
    term: `sync ${o}<source> <destination>`,
    summary: 'mirror repositories or a skopeo sync YAML list to a registry or OCI layouts, copying only what changed',
    load: m.sync,
  },
  index: { term: 'index', summary: 'multi-platform image indexes', load: m.index },
  pull: { term: `pull ${o}<name>`, summary: 'pull an image from a registry into the local image store', load: m.pull },
  push: {
    term: `push ${o}<name>`,
    summary: 'push an image of the local image store to the registry its name points at',
    load: m.push,
  },
  tag: {
    term: `tag ${o}<source> <target>`,
    summary: 'give an image of the local image store another name',
    load: m.tag,
  },
  images: { term: `images ${o}[reference]`, summary: 'list the images of the local image store', load: m.images },
  image: { term: 'image', summary: 'manage images of the local image store', load: m.image },
  rmi: { term: `rmi ${o}<image...>`, summary: 'remove names of images from the local image store', load: m.rmi },
  save: {
    term: `save ${o}<images...>`,
    summary: 'write images into one docker-archive tar (docker load, skopeo)',
    load: m.save,
  },
  load: {
    term: 'load [options]',
    summary: 'load the images of a docker-archive or OCI archive into the local image store',
    load: m.load,
  },
  build: {
    term: `build ${o}<context>`,
    summary: 'build an image from a Dockerfile without a daemon, into the local image store',
    load: m.build,
  },
  import: {
    term: `import ${o}[file] [reference]`,
    summary: 'make a one-layer image from a root filesystem tar, or import a registry:2 storage directory',
    load: m.import,
  },
  inspect: { term: `inspect ${o}<location>`, summary: 'show an image as `docker image inspect` does', load: m.inspect },
  config: { term: `config ${o}<location>`, summary: 'print the image config blob exactly as stored', load: m.config },
  digest: {
    term: `digest ${o}<location>`,
    summary: 'print the digest of the manifest or index a location names',
    load: m.digest,
  },
  history: {
    term: `history ${o}<location>`,
    summary: 'show the history of an image like `docker history`',
    load: m.history,
  },
  manifest: { term: 'manifest', summary: 'look at manifests and indexes', load: m.manifest },
  export: {
    term: `export ${o}<location>`,
    summary: 'write the flattened filesystem of an image as one tar',
    load: m.export,
  },
  layers: {
    term: `layers ${o}<image>`,
    summary: "show an image's layers with sizes and files, and its efficiency as dive does",
    load: m.layers,
  },
  ls: {
    term: `ls ${o}<image> [paths...]`,
    summary: "list an image's files (layers applied) like ls -l",
    load: m.files,
  },
  cat: { term: `cat ${o}<image> <path>`, summary: 'write one file of an image to stdout', load: m.files },
  cp: {
    term: `cp ${o}<image:path> <dest>`,
    summary: 'copy a file or directory out of an image (like docker cp)',
    load: m.files,
  },
  diff: {
    term: `diff ${o}<a> <b>`,
    summary: 'compare two images: files added, deleted and changed; config; shared layers',
    load: m.diff,
  },
  lint: {
    term: `lint ${o}[image]`,
    summary: 'check an image for anti-patterns (root user, secrets, caches, …)',
    load: m.lint,
  },
  ratelimit: {
    term: `ratelimit ${o}[image]`,
    summary: 'show the pull rate limit a registry announces',
    load: m.ratelimit,
  },
  tags: { term: `tags ${o}<repository>`, summary: 'list the tags of a repository or of an OCI layout', load: m.tags },
  catalog: {
    term: `catalog ${o}<registry>`,
    summary: 'list the repositories of a registry through /v2/_catalog',
    load: m.catalog,
  },
  rm: {
    term: `rm ${o}<location>`,
    summary: 'delete a tag (or a manifest by digest) from a registry or an OCI layout',
    load: m.rm,
  },
  login: { term: `login ${o}[server]`, summary: 'log in to a registry (default docker.io)', load: m.login },
  logout: {
    term: `logout ${o}[server]`,
    summary: 'remove the saved credentials of a registry (default docker.io)',
    load: m.login,
  },
  system: { term: 'system', summary: 'the local image store as a whole', load: m.system },
  key: { term: 'key', summary: "signing keys in cosign's formats", load: m.key },
  sign: { term: `sign ${o}<image>`, summary: "sign an image with a key, in cosign's format", load: m.sign },
  attest: {
    term: `attest ${o}<image>`,
    summary: 'attest an image: an in-toto statement in a signed DSSE envelope',
    load: m.attest,
  },
  verify: {
    term: `verify ${o}<image>`,
    summary: 'verify the signatures of an image; exit 1 when none verifies',
    load: m.verify,
  },
  'verify-attestation': {
    term: `verify-attestation ${o}<image>`,
    summary: 'verify the attestations of an image',
    load: m.verifyAttestation,
  },
  tree: {
    term: `tree ${o}<image>`,
    summary: 'show the graph around an image: index children, signatures, SBOMs',
    load: m.tree,
  },
  sbom: {
    term: `sbom ${o}<image>`,
    summary: 'list the packages of an image as an SBOM (SPDX, CycloneDX, table, PURLs)',
    load: m.sbom,
  },
  scan: {
    term: `scan ${o}[image]`,
    summary: 'list the known vulnerabilities of an image or SBOM, offline (OSV database)',
    load: m.scan,
  },
  db: { term: 'db', summary: 'the offline vulnerability database (import, update, status)', load: m.db },
  append: {
    term: `append ${o}<base>`,
    summary: 'add tar or directory layers to an image, written to -t (crane append)',
    load: m.append,
  },
  mutate: {
    term: `mutate ${o}<location>`,
    summary: "change an image's entrypoint, cmd, env, labels, user, workdir, ports, annotations",
    load: m.mutate,
  },
  rebase: {
    term: `rebase ${o}<app>`,
    summary: "put a new base image under an app's own layers (crane rebase)",
    load: m.rebase,
  },
  flatten: { term: `flatten ${o}<location>`, summary: 'squash an image to one layer (crane flatten)', load: m.flatten },
  ci: { term: 'ci', summary: 'CI/CD helpers: image tags and OCI labels from the CI environment or git', load: m.ci },
};

/** The command a command line names (`kura help NAME` names NAME), if any. */
export function commandName(args: string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** The version in package.json (two levels up from dist/cli/), read without loading anything. */
function version(): string {
  const pkg = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(pkg) as { version: string }).version;
}

/**
 * Builds the program for `args`: the command named there from its module; without one (`kura
 * --help`, an unknown command), every command as a stand-in with its term and summary (enough for
 * the list of commands and for "did you mean …?").
 */
export async function buildProgram(args: string[]): Promise<Command> {
  const program = new Command('kura')
    .description('Kura: container images without a Docker daemon — registry, toolkit and library')
    .version(version())
    .option('--debug', 'on an unexpected error, print its stack (also KURA_DEBUG=1)')
    .exitOverride();
  const name = commandName(args);
  const entry = name ? COMMANDS[name] : undefined;
  if (entry) for (const register of await entry.load()) register(program);
  // Stand-ins only where a list of commands is shown or searched (`kura --help`, an unknown command).
  const onlyVersion = args.length === 1 && (args[0] === '--version' || args[0] === '-V');
  if (!entry && !onlyVersion) for (const [n, e] of Object.entries(COMMANDS)) program.command(n).summary(e.summary);
  const help = new Help();
  program.configureHelp({ subcommandTerm: (c) => COMMANDS[c.name()]?.term ?? help.subcommandTerm(c) });
  usageErrorsAsOneLine(program);
  return program;
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
