/**
 * The main thread's actor threads (workers/race-actor.ts, one ActorHost each): spawned once and
 * reused across trials, batches and tests, since spawning a worker costs tens of milliseconds.
 *
 * Invariants: a thread's messages are consumed in order, one `next()` at a time; a dead thread
 * (killed by a fault, terminated after a timeout) is never reused — `get()` replaces it; every
 * failure to load a test terminates all threads before it throws, so no thread is left running a
 * half-loaded test.
 */
import type { Worker } from 'node:worker_threads';
import { AtomvisorError } from '../errors.ts';
import { spawnWorker, workerEntry } from '../spawn-worker.ts';
import type { BatchMessage, FromActor, LoadMessage } from './actor-host.ts';
import type { RaceMode, RaceTest } from './define.ts';

const ACTOR_ENTRY = workerEntry(import.meta.url, '../../workers/race-actor');
const LOAD_TIMEOUT_MS = 60_000;

/** What an actor thread can say: its own messages, or the worker's exit or error. */
export type ActorMessage =
  | FromActor
  | { type: 'exit'; code: number }
  | { type: 'error'; error: Error };

/** One actor thread and the queue of its messages. */
export class ActorThread {
  readonly worker: Worker;
  alive = true;
  threadId = -1;
  readonly #queue: ActorMessage[] = [];
  #waiter: ((m: ActorMessage) => void) | undefined;

  constructor() {
    this.worker = spawnWorker(ACTOR_ENTRY, {});
    this.worker.on('message', (m: FromActor) => this.#push(m));
    this.worker.on('error', (error: Error) => this.#push({ type: 'error', error }));
    this.worker.on('exit', (code: number) => {
      this.alive = false;
      this.#push({ type: 'exit', code });
    });
  }

  #push(m: ActorMessage): void {
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w(m);
    } else this.#queue.push(m);
  }

  /** The thread's next message (its exit, once it is gone). */
  next(): Promise<ActorMessage> {
    const m = this.#queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (!this.alive) return Promise.resolve({ type: 'exit', code: -1 });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  post(message: LoadMessage | BatchMessage): void {
    this.worker.postMessage(message);
  }

  async terminate(): Promise<void> {
    if (this.alive) await this.worker.terminate();
    this.alive = false;
  }
}

export class ActorPool {
  readonly #threads: ActorThread[] = [];

  /** `n` live threads (dead ones are replaced). */
  get(n: number): ActorThread[] {
    for (let t = 0; t < n; t++) {
      const thread = this.#threads[t];
      if (thread === undefined || !thread.alive) this.#threads[t] = new ActorThread();
    }
    return this.#threads.slice(0, n);
  }

  async replace(thread: ActorThread): Promise<void> {
    const at = this.#threads.indexOf(thread);
    await thread.terminate();
    if (at >= 0) this.#threads[at] = new ActorThread();
  }

  async terminateAll(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.terminate()));
    this.#threads.length = 0;
  }

  /**
   * Have `threads` import `file` and pick `test`, thread t as actor t, over the run's control
   * buffer; records each thread's threadId. Throws (after terminating every thread) if one fails
   * to load, exits, or does not answer within LOAD_TIMEOUT_MS.
   */
  async load(
    threads: ActorThread[],
    file: string,
    test: RaceTest,
    mode: RaceMode,
    control: SharedArrayBuffer,
    maxDecisions: number,
  ): Promise<void> {
    threads.forEach((thread, actor) => {
      const message: LoadMessage = {
        type: 'load',
        file,
        test: test.name,
        actor,
        actors: test.actors.length,
        mode,
        control,
        maxDecisions,
      };
      thread.post(message);
    });
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), LOAD_TIMEOUT_MS);
    });
    try {
      for (const thread of threads) {
        const reply = await Promise.race([thread.next(), limit]);
        if (reply === 'timeout') {
          await this.terminateAll();
          throw new AtomvisorError(
            'ERR_ATOMVISOR_RACE_LOAD',
            `actor threads did not load ${file} within ${LOAD_TIMEOUT_MS} ms`,
          );
        }
        if (reply.type === 'loaded') {
          thread.threadId = reply.threadId;
          continue;
        }
        await this.terminateAll();
        throw loadFailure(reply, file);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The error to throw for an actor thread's answer to 'load' other than 'loaded'. */
function loadFailure(reply: ActorMessage, file: string): Error {
  if (reply.type === 'load-error' || reply.type === 'fatal') {
    const e = new AtomvisorError(
      reply.error.code ?? 'ERR_ATOMVISOR_RACE_LOAD',
      reply.error.message,
    );
    e.name = reply.error.name;
    return e;
  }
  if (reply.type === 'error') return reply.error;
  return new AtomvisorError(
    'ERR_ATOMVISOR_RACE_LOAD',
    `an actor thread exited while loading ${file}`,
  );
}
