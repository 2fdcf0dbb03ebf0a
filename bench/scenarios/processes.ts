/**
 * Process facts the scenario and scale benchmarks need (test/helpers is not packaged, so these
 * are bench's own): a zombie-aware liveness check — in containers orphans are reaped late, and
 * `kill(pid, 0)` succeeds on a zombie, which is dead — and a process-group kill that never throws.
 */
import { processAlive } from '../../src/io/process-group.ts';

/** Whether `pid` is a running (not zombie) process. */
export const isAlive = processAlive;

/** SIGKILL a process group (a child spawned with `detached: true`); ignores one already gone. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Poll (every 10 ms, yielding) until `condition` holds or `timeoutMs` passes; returns whether it held. */
export async function pollUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
