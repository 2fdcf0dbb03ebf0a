/**
 * Real worker threads for tests. `spawnWorker(file, data)` starts a TypeScript worker file;
 * `runWorkers(file, datas)` starts one worker per entry and resolves with each worker's first
 * message (its result) once all have exited, or rejects on the first error or on the time limit.
 * Every worker is terminated before the returned promise settles: tests leak no threads.
 */
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../../src/spawn-worker.ts';

export { spawnWorker };

/** Resolves with the first message `worker` posts. */
export function firstMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`worker exited with code ${code} before posting`)),
    );
  });
}

export async function runWorkers<T>(
  file: URL,
  datas: readonly Record<string, unknown>[],
  timeoutMs = 60_000,
): Promise<T[]> {
  const workers = datas.map((data) => spawnWorker(file, data));
  let timer: NodeJS.Timeout | undefined;
  try {
    const results = Promise.all(workers.map((w) => firstMessage<T>(w)));
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`workers still running after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return await Promise.race([results, limit]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Number of threads the concurrency tests use: more than this 2-core machine has cores. */
export const STRESS_THREADS = 4;
