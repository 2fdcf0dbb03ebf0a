/**
 * What a primitive needs to know about the thread it runs on, and the CPU hint it spins with.
 * No I/O: `node:worker_threads` is read for the thread's identity only.
 */
import { isMainThread, threadId } from 'node:worker_threads';

/** This thread's id: 0 on the main thread, unique and never reused for workers in a process. */
export const currentThreadId: number = threadId;

/** True on the thread that runs the process's main event loop: it must never block. */
export const onMainThread: boolean = isMainThread;

type AtomicsWithPause = typeof Atomics & { pause?: (hint?: number) => void };
const runtimePause = (Atomics as AtomicsWithPause).pause;

/** True when the runtime has `Atomics.pause` (Node ≥ 24): a spin-wait hint to the CPU. */
export const hasAtomicsPause: boolean = typeof runtimePause === 'function';

/** One spin-loop iteration's worth of backing off: `Atomics.pause` where it exists. */
export const cpuPause: () => void = hasAtomicsPause
  ? () => (runtimePause as (hint?: number) => void).call(Atomics)
  : () => {};

/** Monotonic milliseconds for deadlines (never wall-clock time, which can jump). */
export const now: () => number = () => performance.now();

/** Absolute deadline for an optional relative timeout: `Infinity` when there is none. */
export function deadlineAfter(timeoutMs: number | undefined): number {
  return timeoutMs === undefined ? Number.POSITIVE_INFINITY : now() + timeoutMs;
}
