import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasTool } from './kura-process.js';

const run = promisify(execFile);

/**
 * An image built with real tools (tar, umoci, skopeo) for the analysis commands, and its unpacked
 * rootfs by `umoci unpack`:
 *   layer 0: files of every kind and mode (setuid, setgid, world-writable, sticky /tmp, uid 1000),
 *            a hard link pair, symlinks inside and outside the root, a private key, a .env;
 *   layer 1: a whiteout, an opaque dir, a replaced file, a hard link's target replaced, the private
 *            key deleted, a whole directory deleted, a symlink to /;
 *   layer 2: the deleted directory recreated, a symlink replaced by a file, a file replaced by a dir.
 * Tag v2 adds a layer and config changes (env, user, label, cmd, port) on top of v1.
 */
const SCRIPT = String.raw`
set -euo pipefail
O=$1; W=$O/work; L=$O/layout
mkdir -p $W
mk() { tar --format=pax --numeric-owner --sort=name --mtime='2024-01-01 00:00:00Z' -C "$1" -cf "$2" .; }
# layer 0
a=$W/l0; mkdir -p $a/etc $a/bin $a/usr/bin $a/data $a/opq/sub $a/cache/sub $a/root/.ssh $a/app $a/tmp $a/home/user
echo v1 > $a/etc/conf; echo 'root:x:0:0::/root:/bin/sh' > $a/etc/passwd
printf '#!/bin/sh\necho tool\n' > $a/bin/tool; chmod 0755 $a/bin/tool
echo su > $a/usr/bin/su; chmod 04755 $a/usr/bin/su
echo wall > $a/usr/bin/wall; chmod 02755 $a/usr/bin/wall
echo keep > $a/data/keep.txt; echo gone > $a/data/remove-me.txt
echo open > $a/data/ww; chmod 0666 $a/data/ww
echo 'hardlinked v1' > $a/data/h1; ln $a/data/h1 $a/data/h2
ln -s ../../../../etc/shadow $a/data/up; ln -s /etc/passwd $a/data/abs; ln -s ../etc $a/data/dirlink
echo old1 > $a/opq/old1.txt; echo old2 > $a/opq/sub/old2.txt
head -c 5000 /dev/zero > $a/cache/big.bin; echo x > $a/cache/sub/x
{ printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\n'
  printf 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n'
  printf 'QyNTUxOQAAACDxkLyCmYSXJfgW0eZ3Yw8ZL7h6Ww2J1lVJz1o6b5iL8QAAAJjFQ2p3xUNq\n'
  printf -- '-----END OPENSSH PRIVATE KEY-----\n'; } > $a/root/.ssh/id_rsa; chmod 0600 $a/root/.ssh/id_rsa
printf 'AWS_ACCESS_KEY_ID=AKIAQWERTYUIOPASDF12\n' > $a/app/.env
printf 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEYq\n' >> $a/app/.env
echo mine > $a/home/user/notes; chown -R 1000:1000 $a/home/user
chmod 01777 $a/tmp; chmod 0700 $a/root
mk $a $W/l0.tar
# layer 1
b=$W/l1; mkdir -p $b/data $b/opq $b/etc $b/root/.ssh
: > $b/data/.wh.remove-me.txt; : > $b/opq/.wh..wh..opq; echo new > $b/opq/new.txt
echo v2 > $b/etc/conf; echo replaced > $b/data/h1
: > $b/root/.ssh/.wh.id_rsa; : > $b/.wh.cache; ln -s / $b/data/up2
chmod 0700 $b/root
mk $b $W/l1.tar
# layer 2
c=$W/l2; mkdir -p $c/cache $c/data $c/etc/conf
echo fresh > $c/cache/new.txt; echo 'now a file' > $c/data/abs; echo inner > $c/etc/conf/inner
mk $c $W/l2.tar
# layer 3 (v2 only)
d=$W/l3; mkdir -p $d/app; echo 'console.log(2)' > $d/app/main.js
mk $d $W/l3.tar
umoci init --layout $L
umoci new --image $L:v1
i=0; for t in l0 l1 l2; do
  umoci raw add-layer --image $L:v1 --history.created 2024-01-01T00:00:00Z \
    --history.created_by "kura-fixture: layer $i" $W/$t.tar; i=$((i+1))
done
umoci config --image $L:v1 --architecture amd64 --os linux --created 2024-01-01T00:00:00Z \
  --config.env PATH=/usr/bin:/bin --config.env API_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 \
  --config.cmd /bin/tool --config.label org.opencontainers.image.source=https://example.com/app \
  --history.created_by '|1 NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789 /bin/sh -c npm ci'
umoci config --image $L:v1 --history.created_by 'ADD https://example.com/tool.tgz /opt/ # buildkit'
umoci tag --image $L:v1 v2
umoci raw add-layer --image $L:v2 --history.created 2024-01-02T00:00:00Z \
  --history.created_by 'kura-fixture: layer 3' $W/l3.tar
umoci config --image $L:v2 --config.user 1000:1000 --config.workingdir /app --config.exposedports 8080/tcp \
  --config.label org.opencontainers.image.version=2 --config.cmd node --config.cmd /app/main.js \
  --history.created_by 'kura-fixture: config'
umoci gc --layout $L
umoci unpack --image $L:v1 $O/bundle >/dev/null
skopeo copy -q oci:$L:v2 docker-archive:$O/v2.tar:fixture/app:v2 >/dev/null
`;

export interface AnalysisFixture {
  dir: string;
  /** `oci:<layout>:v1` and `:v2`. */
  v1: string;
  v2: string;
  /** docker-archive of v2. */
  v2Archive: string;
  /** umoci unpack of v1. */
  rootfs: string;
}

/** Why the fixture cannot be built here, or undefined. */
export function fixtureMissing(): string | undefined {
  for (const t of ['umoci', 'skopeo', 'tar']) if (!hasTool(t)) return `${t} is not installed (apt-get install ${t})`;
  if (process.getuid?.() !== 0) return 'umoci unpack needs root to keep owners and modes';
  return undefined;
}

let built: Promise<AnalysisFixture> | undefined;

export function analysisFixture(): Promise<AnalysisFixture> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kura-analysis-fixture-'));
    await run('bash', ['-c', SCRIPT, 'fixture', dir], { maxBuffer: 16 << 20 });
    return {
      dir,
      v1: `oci:${join(dir, 'layout')}:v1`,
      v2: `oci:${join(dir, 'layout')}:v2`,
      v2Archive: `docker-archive:${join(dir, 'v2.tar')}`,
      rootfs: join(dir, 'bundle', 'rootfs'),
    };
  })();
  return built;
}
