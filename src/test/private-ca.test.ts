import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { selfSignedCert } from './distribution.js';
import { tempDirs } from './tempdirs.js';
import { kuraOk } from './helpers.js';

const dir = tempDirs('kura-private-ca-')();

/** A CA, and a certificate it signs for `cn` (server: IP 127.0.0.1; client: clientAuth). */
function issue(name: string, cn: string, ext: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext + '\n');
  execFileSync(
    'openssl',
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      key,
      '-out',
      csr,
    ],
    { stdio: 'ignore' },
  );
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      join(dir, 'ca.crt'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      extFile,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

let k: KuraProcess;
let server: ReturnType<typeof issue>;
let client: ReturnType<typeof issue>;
before(async () => {
  selfSignedCert(dir, 'ca'); // dir/ca.crt and dir/ca.key: the CA that issues the server's and client's certificates
  server = issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  client = issue('client', 'kura-client', 'extendedKeyUsage=clientAuth');
  k = await startKura({ args: ['--tls-cert', server.cert, '--tls-key', server.key] });
  await new RegistryClient({ registry: k.host, insecure: true })
    .repository('ca/app')
    .write('v1', await randomImage({ seed: 101 }));
});
after(() => k.stop());

const kura = (env: Record<string, string>, ...args: string[]) => kuraOk(args, { env: { ...process.env, ...env } });

test(
  'a registry with a private CA: trusted through certs.d/HOST/ca.crt (KURA_CERTS_D) or --ca-file, refused ' +
    'otherwise with the way in',
  async () => {
    const empty = join(dir, 'certs-empty');
    mkdirSync(empty);
    // Another CA than the one that signed the server's certificate.
    selfSignedCert(dir, 'other');
    const refused = await kura(
      { KURA_CERTS_D: empty },
      'tags',
      '--ca-file',
      join(dir, 'other.crt'),
      `${k.host}/ca/app`,
    ).then(
      () => assert.fail('an unknown CA must be refused'),
      (e: { stderr: string }) => e,
    );
    assert.match(
      refused.stderr,
      /^kura: error: .*not trusted .*trust its CA with --ca-file FILE or certs\.d\/127\.0\.0\.1:\d+\/ca\.crt .*or use --insecure/,
    );
    const certsD = join(dir, 'certs.d');
    mkdirSync(join(certsD, k.host), { recursive: true });
    writeFileSync(join(certsD, k.host, 'ca.crt'), readFileSync(join(dir, 'ca.crt')));
    assert.equal((await kura({ KURA_CERTS_D: `${empty}:${certsD}` }, 'tags', `${k.host}/ca/app`)).stdout, 'v1\n');
    assert.equal(
      (await kura({ KURA_CERTS_D: empty }, 'tags', '--ca-file', join(dir, 'ca.crt'), `${k.host}/ca/app`)).stdout,
      'v1\n',
    );
    assert.match(
      (
        await kura(
          { KURA_CERTS_D: empty },
          'copy',
          '-q',
          '--ca-file',
          join(dir, 'ca.crt'),
          `docker://${k.host}/ca/app:v1`,
          `oci:${join(dir, 'layout')}:v1`,
        )
      ).stdout,
      /^sha256:/,
    );
    // ratelimit and login take it too, like every command that talks to a registry.
    assert.equal(
      (
        JSON.parse(
          (
            await kura(
              { KURA_CERTS_D: empty },
              'ratelimit',
              '--json',
              '--ca-file',
              join(dir, 'ca.crt'),
              `${k.host}/ca/app:v1`,
            )
          ).stdout,
        ) as { status: number }
      ).status,
      200,
    );
    const docker = join(dir, 'docker-config');
    assert.equal(
      (
        await kura(
          { KURA_CERTS_D: empty, DOCKER_CONFIG: docker, REGISTRY_AUTH_FILE: join(docker, 'auth.json') },
          'login',
          '--ca-file',
          join(dir, 'ca.crt'),
          '-u',
          'any',
          '-p',
          'any',
          k.host,
        )
      ).stdout,
      'Login Succeeded\n',
    );
  },
);

test(
  'a client certificate from certs.d/HOST/NAME.cert and NAME.key is presented to a registry that asks for ' + 'one',
  async () => {
    const seen: string[] = [];
    const srv = createServer(
      {
        cert: readFileSync(server.cert),
        key: readFileSync(server.key),
        ca: readFileSync(join(dir, 'ca.crt')),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push(String(peer?.subject?.CN));
        if (!(req.socket as TLSSocket).authorized)
          return void res
            .writeHead(401, { 'content-type': 'application/json' })
            .end('{"errors":[{"code":"UNAUTHORIZED","message":"client certificate required"}]}');
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(req.url?.startsWith('/v2/mtls/app/tags/list') ? '{"name":"mtls/app","tags":["v1"]}' : '{}');
      },
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const certsD = join(dir, 'mtls.d');
      mkdirSync(join(certsD, host), { recursive: true });
      writeFileSync(join(certsD, host, 'ca.crt'), readFileSync(join(dir, 'ca.crt')));
      writeFileSync(join(certsD, host, 'client.cert'), readFileSync(client.cert));
      writeFileSync(join(certsD, host, 'client.key'), readFileSync(client.key));
      assert.equal((await kura({ KURA_CERTS_D: certsD }, 'tags', `${host}/mtls/app`)).stdout, 'v1\n');
      assert.ok(seen.includes('kura-client'), `the server saw ${seen.join(', ')}`);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  },
);
