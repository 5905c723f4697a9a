import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command, Help } from 'commander';
import { buildProgram, commandName, COMMANDS } from './program.js';

test('each command of the table is what its module registers, with the term kura --help shows', async () => {
  const help = new Help();
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const program = new Command('kura');
    for (const register of await entry.load()) register(program);
    const cmd = program.commands.find((c) => c.name() === name);
    assert.ok(cmd, `the module of ${name} registers no command ${name}`);
    assert.equal(entry.term, help.subcommandTerm(cmd), `the term of ${name}`);
  }
});

test('a command line loads the command it names, and only that', async () => {
  const program = await buildProgram(['copy', '--help']);
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    ['copy'],
  );
  assert.ok(
    program.commands[0]!.options.some((o) => o.long === '--all-tags'),
    'copy is the real command',
  );
});

test('kura --help and an unknown command get every command as a stand-in with its summary', async () => {
  for (const args of [['--help'], ['cpoy']]) {
    const program = await buildProgram(args);
    assert.deepEqual(program.commands.map((c) => c.name()).sort(), Object.keys(COMMANDS).sort());
    const pull = program.commands.find((c) => c.name() === 'pull')!;
    assert.deepEqual([pull.options.length, pull.summary()], [0, COMMANDS.pull!.summary]);
  }
  assert.deepEqual((await buildProgram(['--version'])).commands, []);
});

test('the command a command line names', () => {
  assert.equal(commandName(['--json', 'copy', 'a', 'b']), 'copy');
  assert.equal(commandName(['help', 'inspect']), 'inspect');
  assert.equal(commandName(['--version']), undefined);
});

test('the shared flags are declared once, in options.ts: no command file spells them itself', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = new URL('../../src/cli/commands/', import.meta.url);
  const shared = /\.option\(\s*'(--json|--plain-http|--insecure|--creds|--registry-mirror)\b/;
  const found = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .filter((f) => shared.test(readFileSync(new URL(f, dir), 'utf8')));
  assert.deepEqual(found, []);
  assert.ok(shared.test(".option('--json', 'x')"), 'the check sees a hand-made --json');
});

test('every command with --json gets the same flag: a boolean, described in its help', async () => {
  const program = new Command('kura');
  const registers = new Set((await Promise.all(Object.values(COMMANDS).map((e) => e.load()))).flat());
  for (const register of registers) register(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  const withJson = all(program).filter((c) => c.options.some((o) => o.long === '--json'));
  assert.ok(withJson.length >= 20, `${withJson.length} commands take --json`);
  for (const c of withJson) {
    const o = c.options.find((x) => x.long === '--json')!;
    assert.equal(o.required || o.optional, false, `${c.name()}: --json takes no value`);
    assert.ok(o.description.length > 0, c.name());
  }
});
