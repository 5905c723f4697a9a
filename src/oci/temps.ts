/**
 * Temporary files and folders that writes in progress hold (archive staging folders, decompressed
 * copies, tars being written). A write removes its own when it ends, failed or not; if the process
 * ends first, whoever owns the process calls `removeLiveTemps` (the CLI does, on exit). The library
 * itself never hooks the process.
 */
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';

const live = new Set<string>();

/** Records a temporary path as held until `removeTemp` or `forgetTemp`. */
export function trackTemp(path: string): void {
  live.add(path);
}

/** The path is no longer temporary (renamed into place). */
export function forgetTemp(path: string): void {
  live.delete(path);
}

/** Removes a temporary path now and forgets it. */
export async function removeTemp(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  live.delete(path);
}

/** Removes every temporary path still held, synchronously (it may run in an 'exit' handler). */
export function removeLiveTemps(): void {
  for (const p of live) rmSync(p, { recursive: true, force: true });
  live.clear();
}
