/**
 * Test helper (not a test): the reference registry (CNCF Distribution 2.8.2, Debian's
 * `docker-registry`) on 127.0.0.1 with filesystem storage in a temp dir, anonymous, htpasswd or
 * behind a Docker-style token service that this helper runs itself (ES256 JWTs with an x5c chain).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { childLog } from './kura-process.js';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

/** Why Distribution tests cannot run here, or undefined when they can. */
export function distributionMissing(): string | undefined {
  return existsSync(DISTRIBUTION_BIN) ? undefined : `${DISTRIBUTION_BIN} is missing (apt-get install docker-registry)`;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A self-signed P-256 certificate and its PKCS#8 key, made by openssl. */
export function selfSignedCert(dir: string, name: string, san = 'IP:127.0.0.1'): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  /** Requests the service received (query strings), for assertions. */
  requests: string[];
  close(): Promise<void>;
}

/** A Docker token service: users from `users`, every requested action granted to them; anonymous gets nothing. */
export async function startTokenService(dir: string, users: Record<string, string>): Promise<TokenService> {
  const { cert, key } = selfSignedCert(dir, 'token-signer', 'DNS:token-signer');
  const der = readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const signer = await importPKCS8(readFileSync(key, 'utf8'), 'ES256');
  const service = 'kura-test-registry';
  const issuer = 'kura-test-issuer';
  const requests: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(url.search);
      let user: string | undefined;
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
        if (users[u!] === undefined || users[u!] !== p.join(':')) {
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end('{"details":"incorrect username or password"}');
          return;
        }
        user = u;
      }
      const access = user
        ? url.searchParams.getAll('scope').flatMap((s) => {
            const m = /^(repository|registry):(.+):([^:]+)$/.exec(s);
            return m ? [{ type: m[1], name: m[2], actions: m[3]!.split(',') }] : [];
          })
        : [];
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ access })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [der] })
        .setIssuer(issuer)
        .setSubject(user ?? '')
        .setAudience(service)
        .setIssuedAt(now)
        .setNotBefore(now - 5)
        .setExpirationTime(now + 300)
        .setJti(randomUUID())
        .sign(signer);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
    })();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: cert,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface Distribution {
  /** 127.0.0.1:PORT */
  host: string;
  url: string;
  /** storage.filesystem.rootdirectory: the registry:2 storage tree. */
  rootDirectory: string;
  stop(): Promise<void>;
}

export interface DistributionOptions {
  /** htpasswd file (bcrypt, htpasswd -Bbn). */
  htpasswd?: string;
  token?: TokenService;
  /** Leave the storage tree (rootDirectory) on stop, for the caller to read and remove. */
  keepData?: boolean;
}

/** Starts `docker-registry serve` on a free loopback port; resolves once /v2/ answers. */
export async function startDistribution(o: DistributionOptions = {}): Promise<Distribution> {
  const dir = mkdtempSync(join(tmpdir(), 'kura-distribution-'));
  const port = await freePort();
  const auth = o.htpasswd
    ? `auth:\n  htpasswd:\n    realm: kura-test\n    path: ${o.htpasswd}\n`
    : o.token
      ? `auth:\n  token:\n    realm: ${o.token.realm}\n    service: ${o.token.service}\n    issuer: ` +
        `${o.token.issuer}\n    rootcertbundle: ${o.token.rootCertBundle}\n`
      : '';
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    ` +
      `rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      ` +
      `enabled: false\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: kura-test-secret\n${auth}`,
  );
  // Its log goes to a file: through a pipe, a test blocked in execFileSync stops draining it, and once the
  // pipe is full Distribution's logger blocks every request that logs (each 404 does) — the "client hang".
  const log = childLog(dir, `docker-registry-${port}.log`);
  const proc: ChildProcess = spawn(DISTRIBUTION_BIN, ['serve', config], { stdio: ['ignore', 'ignore', log.fd] });
  log.close();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}): ${log.tail(8000)}`);
    const ok = await fetch(`${url}/v2/`).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`docker-registry did not answer on ${url} within 10 s: ${log.tail(8000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    rootDirectory: join(dir, 'data'),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      if (o.keepData) rmSync(config, { force: true });
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
