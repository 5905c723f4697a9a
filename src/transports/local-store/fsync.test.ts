import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../../test/tempdirs.js';

const execFileP = promisify(execFile);
const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p));

test(
  "the local image store fsyncs the blob folder after renaming a blob into it (and new folders' parents)",
  { skip: STRACE ? false : 'strace is not installed (apt-get install strace)' },
  async () => {
    const dir = await tempDir('kura-fsync-');
    try {
      const module = fileURLToPath(new URL('./blobs.js', import.meta.url));
      const script = `
      import { BlobDir } from ${JSON.stringify(module)};
      import { createHash } from 'node:crypto';
      import { Readable } from 'node:stream';
      const b = Buffer.from('a blob for the fsync test');
      const digest = 'sha256:' + createHash('sha256').update(b).digest('hex');
      const dir = new BlobDir(${JSON.stringify(join(dir, 'store'))});
      await dir.put({ mediaType: 'x/y', digest, size: b.length }, { open: async () => Readable.from([b]) });
    `;
      const log = join(dir, 'trace');
      await execFileP(STRACE!, [
        '-f',
        '-qq',
        '-e',
        'trace=openat,rename,renameat,renameat2,fsync,fdatasync',
        '-o',
        log,
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ]);
      const lines = (await readFile(log, 'utf8')).split('\n');
      const blobDir = join(dir, 'store', 'blobs', 'sha256');
      const renamed = lines.findIndex((l) => /rename/.test(l) && l.includes(`"${blobDir}/`) && !/\.tmp"[^"]*$/.test(l));
      assert.ok(renamed >= 0, 'the blob is renamed into place');
      const syncedAfter = (folder: string, from: number) => {
        const opened = lines
          .slice(from)
          .map((l) => new RegExp(`openat\\(AT_FDCWD, "${folder.replace(/[/.]/g, '\\$&')}", [^)]*\\) = (\\d+)`).exec(l))
          .find(Boolean);
        assert.ok(opened, `${folder} opened after the rename`);
        assert.ok(
          lines.slice(from).some((l) => new RegExp(`fsync\\(${opened[1]}\\)`).test(l)),
          `${folder} fsynced`,
        );
      };
      syncedAfter(blobDir, renamed);
      // blobs/sha256 was created by this put: its name, in blobs/, is made durable before the rename.
      syncedAfter(join(dir, 'store', 'blobs'), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
