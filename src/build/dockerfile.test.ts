import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerfileError, parseDockerfile } from './dockerfile.js';
import { expandWord, keyValues, LexError, splitWords } from './lex.js';

const one = (text: string) => parseDockerfile(`FROM scratch\n${text}`).stages[0]!.instructions;

test('continuations, comments inside them, and the escape directive', () => {
  const [run] = one('RUN echo a \\\n# a comment\n  b \\\n\n  c');
  assert.equal(run!.args, 'echo a   b   c');
  const df = parseDockerfile('# escape=`\nFROM scratch\nCOPY a `\n  b/\n');
  assert.equal(df.escape, '`');
  assert.equal(df.stages[0]!.instructions[0]!.args, 'a   b/');
  // after a blank line a directive is a comment
  assert.equal(parseDockerfile('\n# escape=`\nFROM scratch').escape, '\\');
  assert.equal(parseDockerfile('# syntax=docker/dockerfile:1\nFROM scratch').syntax, 'docker/dockerfile:1');
});

test('JSON and shell forms, flags', () => {
  const [a, b, c, d] = one(
    'CMD ["a", "b c"]\nCMD [not json\nCOPY --from=x --chown=1:2 a b\n' +
      'RUN --mount=type=cache,target=/c --mount=type=secret,id=s true',
  );
  assert.deepEqual(a!.json, ['a', 'b c']);
  assert.equal(b!.json, undefined);
  assert.equal(b!.args, '[not json');
  assert.deepEqual(
    [...c!.flags],
    [
      ['from', ['x']],
      ['chown', ['1:2']],
    ],
  );
  assert.deepEqual(d!.flags.get('mount'), ['type=cache,target=/c', 'type=secret,id=s']);
});

test('heredocs: several per line, <<- strips tabs, quoted delimiters do not expand', () => {
  const [run, copy] = one(
    'RUN <<EOF bash\necho $HOME\n\techo x\nEOF\n' + 'COPY <<-"A" /a <<B /b\n\tone\n\tA\ntwo\nB\nENV X=1',
  );
  assert.deepEqual(run!.heredocs, [{ name: 'EOF', body: 'echo $HOME\n\techo x\n', expand: true }]);
  assert.deepEqual(copy!.heredocs, [
    { name: 'A', body: 'one\n', expand: false },
    { name: 'B', body: 'two\n', expand: true },
  ]);
});

test('ARG before FROM, stages and their names', () => {
  const df = parseDockerfile('ARG V=1\nFROM base:${V} AS Build\nRUN x\nFROM build\nCOPY --from=build /a /a');
  assert.equal(df.metaArgs.length, 1);
  assert.deepEqual(
    df.stages.map((s) => [s.name, s.base, s.instructions.length]),
    [
      ['build', 'base:${V}', 1],
      [undefined, 'build', 1],
    ],
  );
});

const errors: [string, string][] = [
  ['FROM scratch\nFORM x', 'Dockerfile:2:1: unknown instruction FORM: expected one of'],
  ['ENV A=1\nFROM scratch', 'Dockerfile:1:1: ENV before the first FROM'],
  ['FROM scratch\n  COPY --form=x a b', 'Dockerfile:2:8: unknown flag --form for COPY: COPY takes --from'],
  ['FROM scratch\nSHELL /bin/sh', 'Dockerfile:2:1: SHELL requires the arguments to be in JSON form'],
  ['FROM scratch\nRUN <<EOF\nx', 'Dockerfile:2:1: unterminated heredoc EOF'],
  ['FROM a AS x\nFROM b AS x', 'Dockerfile:2:1: duplicate stage name "x"'],
  ['FROM a b', 'Dockerfile:1:1: FROM takes IMAGE or IMAGE AS NAME'],
  ['# comment only', 'Dockerfile:1:1: the file has no FROM instruction'],
  ['FROM scratch\nONBUILD FROM x', "Dockerfile:2:1: FROM isn't allowed as an ONBUILD trigger"],
  ['FROM scratch\nWORKDIR', 'Dockerfile:2:8: WORKDIR requires at least one argument'],
];
for (const [text, want] of errors)
  test(`error: ${want}`, () => {
    assert.throws(
      () => parseDockerfile(text),
      (e: unknown) => e instanceof DockerfileError && e.message.startsWith(want),
    );
  });

const vars = new Map([
  ['A', 'a'],
  ['E', ''],
  ['P', 'x y'],
]);
const words: [string, string][] = [
  ['$A', 'a'],
  ['${A}b', 'ab'],
  ['${U:-d}', 'd'],
  ['${E:-d}', 'd'],
  ['${E-d}', ''],
  ['${U-d}', 'd'],
  ['${A:+alt}', 'alt'],
  ['${E:+alt}', ''],
  ['${E+alt}', 'alt'],
  ['${U:-${A}x}', 'ax'],
  ["'$A'", '$A'],
  ['"$A b"', 'a b'],
  ['\\$A', '$A'],
  ['"\\"q\\""', '"q"'],
  ['a\\ b', 'a b'],
  ['$', '$'],
  ['$1', '$1'],
];
for (const [w, want] of words) test(`expand ${w}`, () => assert.equal(expandWord(w, vars), want));

test('word errors', () => {
  assert.throws(() => expandWord('${U:?must be set}', vars), /U: must be set/);
  assert.throws(() => expandWord('"open', vars), LexError);
  assert.throws(() => expandWord('${A', vars), /missing "}"/);
  assert.throws(() => expandWord('${A%x}', vars), /unsupported modifier/);
});

test('words and key=value pairs', () => {
  assert.deepEqual(splitWords(`a "b c" d\\ e 'f g'`), ['a', '"b c"', 'd\\ e', "'f g'"]);
  assert.deepEqual(keyValues('A=1 B="two words" C=$P', vars, 'ENV'), [
    ['A', '1'],
    ['B', 'two words'],
    ['C', 'x y'],
  ]);
  assert.deepEqual(keyValues('K some value $A', vars, 'ENV'), [['K', 'some value a']]);
  assert.throws(() => keyValues('K', vars, 'ENV'), /without a value/);
});
