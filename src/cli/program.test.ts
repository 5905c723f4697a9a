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

test('a command line loads the command it names; the others are stand-ins with their summary', async () => {
  const program = await buildProgram(['copy', '--help']);
  const copy = program.commands.find((c) => c.name() === 'copy')!;
  assert.ok(copy.options.some((o) => o.long === '--all-tags'), 'copy is the real command');
  const pull = program.commands.find((c) => c.name() === 'pull')!;
  assert.deepEqual([pull.options.length, pull.summary()], [0, COMMANDS.pull!.summary]);
  assert.deepEqual(program.commands.map((c) => c.name()).sort(), Object.keys(COMMANDS).sort());
});

test('the command a command line names', () => {
  assert.equal(commandName(['--json', 'copy', 'a', 'b']), 'copy');
  assert.equal(commandName(['help', 'inspect']), 'inspect');
  assert.equal(commandName(['--version']), undefined);
});
