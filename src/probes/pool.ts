/**
 * ProbePool: the piscina pool that runs exec/tcp/http/module probes off the main thread.
 *
 * - `atomics: 'disabled'`: piscina's default ('sync') parks idle workers in a blocking
 *   Atomics.wait, which would stall the probes' own timers and sockets (docs/architecture.md,
 *   "Known traps").
 * - Probes are I/O bound, so one worker runs many at once (`concurrentTasksPerWorker`).
 * - Every task is raced with a main-thread timer at its timeout: the result (a failure) is
 *   delivered then whatever the worker does. If the worker has still not answered `graceMs`
 *   later it is stuck (a probe spinning synchronously): that worker is terminated and piscina
 *   starts a fresh one (its other tasks fail). Nothing waits for that to finish.
 *
 * Why not piscina's own abort (`run(task, { signal })`)? piscina runs an abortable task only on
 * an otherwise idle worker, so with signals the probes of a round would run `threads` at a time —
 * a round over 10 hanging probes would take 5·T on 2 threads, the very failure F1. So tasks go
 * without a signal, and each task tells us which worker took it: at start the worker stores its
 * threadId into the task's word of a small SharedArrayBuffer ring (`claims`, given to every
 * worker once, as its workerData), lock-free.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ProbeOutcome, ProbeTask } from './task.ts';

const SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = fileURLToPath(
  new URL(
    SOURCE ? '../../workers/probe-boot.mjs' : '../../workers/probe-worker.js',
    import.meta.url,
  ),
);

export interface ProbePoolOptions {
  threads: number;
  tasksPerThread: number;
  /** How long after its timeout a task's worker may still answer before it is terminated. */
  graceMs?: number;
}

/**
 * Entries in the claims ring (two words each: the threadId that took the task, and the pid of the
 * exec probe's child while it runs). More probes in flight at once than this could misname one.
 */
const CLAIMS = 4096;

export class ProbePool {
  readonly #pool: Piscina<ProbeTask, ProbeOutcome>;
  readonly #graceMs: number;
  readonly #claims = new Int32Array(new SharedArrayBuffer(CLAIMS * 2 * 4));
  #nextClaim = 0;
  /** Claim indices of tasks that have not answered yet. */
  readonly #pending = new Set<number>();
  /** Workers terminated because a task of theirs did not answer in time. */
  workersReplaced = 0;
  #closed = false;

  constructor(options: ProbePoolOptions) {
    this.#graceMs = options.graceMs ?? 250;
    this.#pool = new Piscina<ProbeTask, ProbeOutcome>({
      filename: ENTRY,
      atomics: 'disabled',
      minThreads: options.threads,
      maxThreads: options.threads,
      concurrentTasksPerWorker: options.tasksPerThread,
      idleTimeout: 60_000,
      recordTiming: false, // piscina's run/wait histograms: per-task work nobody reads here
      workerData: { claims: this.#claims.buffer },
    });
  }

  get threads(): number {
    return this.#pool.threads.length;
  }

  /**
   * Resolves when every worker has loaded the probe module and answered a task (or after
   * `timeoutMs`), so probes do not pay a worker's start-up — nor its CPU, on a small machine —
   * inside their timeouts.
   */
  async warm(timeoutMs = 30_000): Promise<void> {
    const threads = this.#pool.options.maxThreads;
    const seen = new Set<unknown>();
    const deadline = performance.now() + timeoutMs;
    while (seen.size < threads && performance.now() < deadline && !this.#closed) {
      const answers = await Promise.all(
        Array.from({ length: threads }, () =>
          this.run({ check: { kind: 'noop', delayMs: 50 }, timeoutMs, key: '', pid: 0 }),
        ),
      );
      for (const a of answers) if (a.ok) seen.add(a.detail);
    }
  }

  /** Run one probe; always resolves (by `task.timeoutMs` plus a few ms at the latest). */
  run(task: ProbeTask): Promise<ProbeOutcome> {
    if (this.#closed) return Promise.resolve({ ok: false, reason: 'the probe pool is closed' });
    const index = this.#nextClaim;
    this.#nextClaim = (index + 1) % CLAIMS;
    Atomics.store(this.#claims, 2 * index, 0);
    Atomics.store(this.#claims, 2 * index + 1, 0);
    this.#pending.add(index);
    const claimed: ProbeTask = { ...task, claim: index };
    return new Promise<ProbeOutcome>((resolve) => {
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const finish = (outcome: ProbeOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      // The worker cuts the probe at timeoutMs itself; this timer only matters when it can't.
      const timer = setTimeout(() => {
        finish({ ok: false, reason: `timed out after ${task.timeoutMs} ms`, timedOut: true });
        this.#killChildOf(index); // an exec probe's command: its worker was to kill it by now
        killTimer = setTimeout(() => this.#replaceWorkerOf(index), this.#graceMs);
        killTimer.unref();
      }, task.timeoutMs + 20);
      timer.unref();
      this.#pool.run(claimed).then(
        (outcome) => {
          this.#pending.delete(index);
          clearTimeout(killTimer);
          finish(outcome);
        },
        (error: unknown) => {
          this.#pending.delete(index);
          this.#killChildOf(index); // its worker was terminated: its child would outlive it
          clearTimeout(killTimer);
          finish({ ok: false, reason: error instanceof Error ? error.message : String(error) });
        },
      );
    });
  }

  /** The task in claim word `index` is stuck: terminate the worker running it (if it started). */
  #replaceWorkerOf(index: number): void {
    const threadId = Atomics.load(this.#claims, 2 * index);
    if (threadId === 0 || this.#closed) return; // still queued: no worker is stuck on it
    const worker = this.#pool.threads.find((w) => w.threadId === threadId);
    if (worker === undefined) return;
    this.workersReplaced++;
    // Children spawned in a worker survive its termination: kill its exec probes' groups first.
    for (const i of this.#pending)
      if (Atomics.load(this.#claims, 2 * i) === threadId) this.#killChildOf(i);
    void worker.terminate();
  }

  /**
   * Kill the process group of the exec probe in claim `index`, if one is running. The worker
   * publishes the pid after spawn and clears it (CAS) when it has seen the child exit.
   */
  #killChildOf(index: number): void {
    const pid = Atomics.exchange(this.#claims, 2 * index + 1, 0);
    if (pid <= 0) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const index of this.#pending) this.#killChildOf(index);
    await this.#pool.destroy();
  }
}
