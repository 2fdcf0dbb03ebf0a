/**
 * Start a worker thread from a module that sits beside the caller, whether the caller runs from
 * TypeScript source (tsx, vitest) or from the built package (plain node).
 *
 *   spawnWorker(workerEntry(import.meta.url, './workers/x.worker'), data)
 *
 * `workerEntry` picks `.ts` or `.js` to match the calling module; a `.ts` entry is started through
 * workers/ts-boot.mjs (tsx), a `.js` entry directly.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

const TS_BOOT = new URL('../workers/ts-boot.mjs', import.meta.url);

/** URL of `relative` (no extension) next to `callerUrl`, with the caller's own extension. */
export function workerEntry(callerUrl: string, relative: string): URL {
  const ext = callerUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${relative}${ext}`, callerUrl);
}

export function spawnWorker(
  entry: URL,
  workerData: Record<string, unknown> = {},
  options: Omit<WorkerOptions, 'workerData'> = {},
): Worker {
  if (entry.pathname.endsWith('.ts')) {
    return new Worker(TS_BOOT, { ...options, workerData: { ...workerData, __entry: entry.href } });
  }
  return new Worker(entry, { ...options, workerData });
}
