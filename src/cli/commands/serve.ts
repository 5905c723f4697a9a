import type { Command } from 'commander';
import { SERVE_FLAGS } from '../../config/flags.js';

/**
 * `kura serve`: every config key is also a flag. The flags come from a table generated from the one
 * schema (config/flags.ts), so `--help` does not load the schema.
 */
export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the OCI registry (filesystem blobs + SQLite metadata under --data)')
    .option('-c, --config <file>', 'YAML config file (flags > KURA_* environment > file > defaults)');
  const keys = SERVE_FLAGS;
  for (const k of keys) cmd.option(`${k.flag} <value>`, k.description);
  cmd.action(async (opts: Record<string, string | undefined>) => {
    const flags: Record<string, string> = {};
    for (const k of keys) {
      const attr = k.flag.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      const v = opts[attr];
      if (v !== undefined) flags[k.path.join('.')] = v;
    }
    const { loadServeConfig } = await import('../../config/load.js');
    const config = loadServeConfig({ file: opts.config, env: process.env, flags });
    // A cache streams upstream blobs through JavaScript buffers: V8's heap gets room for them (src/proxy/heap.ts).
    if (config.proxy.upstreams.length > 0) (await import('../../proxy/heap.js')).roomForStreamedBlobs();
    // The server's modules (fastify, SQLite) load only now: `kura serve --help` does without them.
    const [{ startServer }, { sendfileHelper }] = await Promise.all([
      import('../../server/start.js'),
      import('../../http/sendfile.js'),
    ]);
    const server = await startServer(config);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`kura: ${signal}: draining in-flight requests (up to ${config.shutdown.timeout / 1000}s)\n`);
      server.close().then(
        () => process.exit(0),
        (e) => {
          process.stderr.write(`kura: shutdown error: ${(e as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      try {
        if (server.reloadTls()) process.stderr.write('kura: SIGHUP: TLS certificate and key reloaded\n');
      } catch (e) {
        // Keep serving with the old certificate rather than die on a half-written file.
        process.stderr.write(`kura: SIGHUP: TLS reload failed, keeping the old certificate: ${(e as Error).message}\n`);
      }
    });
    // Image references carry no scheme: skopeo and podman refuse `docker://https://…`.
    const hostPort = server.url.replace(/^https?:\/\//, '');
    const lines = [
      `kura: registry listening on ${server.url}`,
      `kura: data in ${server.dataDir} (blobs: filesystem, metadata: sqlite ${server.dataDir}/kura.db)`,
      `kura: push an image:  skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://${hostPort}/NAME:TAG`,
      `kura:            or:  podman push --tls-verify=false IMAGE ${hostPort}/NAME:TAG`,
    ];
    if (server.authenticated) {
      lines.push(
        `kura: authentication on (${config.auth.token.enabled ? `token service at ${server.url}/v2/token` : 'Basic'})`,
      );
      if (config.auth.rules.length === 0) {
        lines.push(
          'kura: no auth.rules: every signed-in user may pull, push and delete; the admin API needs auth.admins ' +
            '(see docs/security.md)',
        );
      }
      const open = config.auth.anonymous.filter((r) => r.actions.some((a) => a !== 'pull'));
      if (open.length > 0) {
        lines.push(
          `kura: WARNING: anonymous callers may ` +
            `${[...new Set(open.flatMap((r) => r.actions.filter((a) => a !== 'pull')))].join(', ')} in ` +
            `${open.flatMap((r) => r.repositories).join(', ')}`,
        );
      }
    } else if (!isLoopbackHost(server.host)) {
      lines.push(
        `kura: WARNING: listening on ${server.host} without authentication: anyone who can reach it can push and ` +
          `delete`,
      );
    }
    if (config.http.sendfile && !server.url.startsWith('https:') && !sendfileHelper()) {
      lines.push(
        'kura: blobs are served through streams: the sendfile(2) helper is not built (`npm install` builds it with ' +
          'python3, make and g++)',
      );
    }
    process.stderr.write(lines.join('\n') + '\n');
  });
}

/** Whether a listen host is a loopback name or address (all of 127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
