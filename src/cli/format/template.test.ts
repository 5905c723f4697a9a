import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TemplateError, headerOf, renderTable, renderTemplate } from './template.js';
import { tabwrite } from './tabwriter.js';
import { goJson } from './template-funcs.js';

const image = {
  Id: 'sha256:abc',
  RepoTags: ['alpine:3.20'],
  Architecture: 'amd64',
  Os: 'linux',
  Size: 3623807,
  Config: {
    User: '',
    Env: ['PATH=/usr/local/sbin:/usr/local/bin', 'A=b'],
    Cmd: ['/bin/sh'],
    Entrypoint: null,
    ExposedPorts: { '80/tcp': {}, '443/tcp': {} },
    Labels: { 'org.opencontainers.image.version': '3.20.1', maintainer: 'Kura <kura@example.com>' },
    Volumes: null,
  },
  RootFS: { Type: 'layers', Layers: ['sha256:l1', 'sha256:l2', 'sha256:l3'] },
  Healthy: true,
  Empty: [],
};

// Each line: template → exact output, as the docker CLI (Go text/template) prints it.
const cases: [string, string][] = [
  ['{{.Architecture}}', 'amd64'],
  ['{{.Config.Env}}', '[PATH=/usr/local/sbin:/usr/local/bin A=b]'],
  ['{{json .Config.Labels}}', '{"maintainer":"Kura <kura@example.com>","org.opencontainers.image.version":"3.20.1"}'],
  ['{{len .RootFS.Layers}}', '3'],
  ['{{range .Config.Env}}{{println .}}{{end}}', 'PATH=/usr/local/sbin:/usr/local/bin\nA=b\n'],
  ['{{index .Config.Labels "org.opencontainers.image.version"}}', '3.20.1'],
  ['{{index .Config.Labels "missing"}}', ''],
  ['{{.Config.Labels.missing}}', '<no value>'],
  ['{{.Config.Labels}}', 'map[maintainer:Kura <kura@example.com> org.opencontainers.image.version:3.20.1]'],
  ['{{.Config.ExposedPorts}}', 'map[443/tcp:{} 80/tcp:{}]'],
  ['{{.Config.Entrypoint}}', '<nil>'],
  ['{{.Empty}}', '[]'],
  ['{{.Size}} {{.Healthy}}', '3623807 true'],
  ['{{join .Config.Env ","}}', 'PATH=/usr/local/sbin:/usr/local/bin,A=b'],
  ['{{.Config.Cmd | json}}', '["/bin/sh"]'],
  ['{{json .Config.Entrypoint}}', 'null'],
  ['{{.Os | upper}}/{{lower "AMD64"}} {{title "hello world-wide"}}', 'LINUX/amd64 Hello World-Wide'],
  [
    '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}',
    'maintainer=Kura <kura@example.com>;org.opencontainers.image.version=3.20.1;',
  ],
  ['{{range $i, $l := .RootFS.Layers}}{{$i}}:{{$l}} {{end}}', '0:sha256:l1 1:sha256:l2 2:sha256:l3 '],
  ['{{range .Empty}}x{{else}}none{{end}}', 'none'],
  ['{{if .Config.User}}{{.Config.User}}{{else}}root{{end}}', 'root'],
  ['{{if eq .Os "windows"}}w{{else if eq .Os "linux"}}l{{else}}?{{end}}', 'l'],
  ['{{if and .Healthy (gt .Size 1000)}}big{{end}}', 'big'],
  ['{{with .Config}}{{.Cmd}}{{end}}', '[/bin/sh]'],
  ['a  {{- .Os -}}  b', 'alinuxb'],
  ['{{/* a comment */}}x', 'x'],
  ['{{$arch := .Architecture}}{{range .RootFS.Layers}}{{$arch}}{{end}}', 'amd64amd64amd64'],
  ['{{range .RootFS.Layers}}{{$.Os}} {{end}}', 'linux linux linux '],
  ['{{.Os}}\\t{{.Architecture}}\\n', 'linux\tamd64\n'],
  ['{{printf "%s-%d" .Os .Size}}', 'linux-3623807'],
  ['{{print "a" 1 2 "b"}}', 'a1 2b'],
  ['{{pad .Os 1 2}}|{{truncate .Architecture 2}}', ' linux  |am'],
  ['{{split "a:b" ":"}}', '[a b]'],
  ['{{(index .RootFS.Layers 1)}} {{len .Config.Labels}}', 'sha256:l2 2'],
  ['{{not .Healthy}} {{or .Config.User "none"}}', 'false none'],
  [
    '{{json .}}',
    JSON.stringify(image)
      .replace(/"ExposedPorts":\{"80\/tcp":\{\},"443\/tcp":\{\}\}/, '"ExposedPorts":{"443/tcp":{},"80/tcp":{}}')
      .replace(
        '"Labels":{"org.opencontainers.image.version":"3.20.1","maintainer":"Kura <kura@example.com>"}',
        '"Labels":{"maintainer":"Kura <kura@example.com>","org.opencontainers.image.version":"3.20.1"}',
      ),
  ],
];

for (const [tmpl, want] of cases) {
  test(`template ${tmpl}`, () => {
    assert.equal(renderTemplate(tmpl, image), want);
  });
}

// Each line: template → what the error must say.
const errors: [string, RegExp][] = [
  [
    '{{.Nope}}',
    /template "\{\{\.Nope\}\}", line 1 column 3: can't evaluate field Nope: no such field \(fields here: Id, RepoTags, /,
  ],
  ['{{nope .Os}}', /line 1 column 3: function "nope" not defined \(there are: and, eq, /],
  ['{{if .Os}}x', /missing \{\{end\}\}/],
  ['{{end}}', /unexpected \{\{end\}\}/],
  ['{{.Os', /unclosed action/],
  ['{{len .Size}}', /error calling len: len of int/],
  ['{{upper .RootFS.Layers}}', /error calling upper: upper: wrong type for value; expected string; got \[\]string/],
  ['{{.Os "x"}}', /can't give argument to non-function \.Os/],
  ['{{index .RootFS.Layers 7}}', /index out of range: 7/],
  ['{{$x}}', /undefined variable "\$x"/],
  ['line1\n  {{.Os.Foo}}', /line 2 column 5: can't evaluate field Foo in type string/],
];

for (const [tmpl, want] of errors) {
  test(`template error ${JSON.stringify(tmpl)}`, () => {
    assert.throws(
      () => renderTemplate(tmpl, image),
      (e: unknown) => e instanceof TemplateError && want.test(e.message),
    );
  });
}

test(
  'goJson: map keys sorted and struct fields kept, as Go marshals them; html escapes <, > and & like docker ' +
    'inspect',
  () => {
    const v = { Id: 'x', Config: { User: '', Labels: { z: '1', a: 'a<b>&c' } } };
    assert.equal(goJson(v), '{"Id":"x","Config":{"User":"","Labels":{"a":"a<b>&c","z":"1"}}}');
    assert.equal(
      goJson(v, undefined, { html: true }),
      '{"Id":"x","Config":{"User":"","Labels":{"a":"a\\u003cb\\u003e\\u0026c","z":"1"}}}',
    );
    assert.equal(goJson({ z: 1, a: 2 }, undefined, { sort: false }), '{"z":1,"a":2}');
  },
);

test('tabwriter: columns are the widest cell plus 3, at least 10; the last cell is not padded', () => {
  assert.equal(
    tabwrite('IMAGE\tSIZE\tX\nabcdef123456\t1kB\tlonger text\n'),
    'IMAGE          SIZE      X\nabcdef123456   1kB       longer text\n',
  );
  assert.equal(tabwrite('a\tb\nsingle\nccccccccccccc\td\n'), 'a         b\nsingle\nccccccccccccc   d\n');
});

test('table formats: header from field names (or given headers), rows aligned like docker', () => {
  const rows = [
    { ID: 'abc123', CreatedBy: '/bin/sh -c #(nop) CMD ["sh"]', Size: '0B' },
    { ID: '<missing>', CreatedBy: 'ADD file:x in /', Size: '3.62MB' },
  ];
  assert.equal(
    renderTable('table {{.ID}}\\t{{.CreatedBy}}\\t{{.Size}}', rows, { ID: 'IMAGE' }),
    'IMAGE       CREATED BY                     SIZE\n' +
      'abc123      /bin/sh -c #(nop) CMD ["sh"]   0B\n' +
      '<missing>   ADD file:x in /                3.62MB\n',
  );
  assert.equal(renderTable('{{.ID}}: {{.Size}}', rows), 'abc123: 0B\n<missing>: 3.62MB\n');
  assert.equal(renderTable('table {{.ID | lower}}', rows, { ID: 'IMAGE' }), 'IMAGE\nabc123\n<missing>\n');
  assert.equal(headerOf('CreatedSince'), 'CREATED SINCE');
});
