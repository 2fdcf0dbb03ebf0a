/**
 * The actor thread's side of the harness (workers/race-actor.ts starts it). One thread runs one
 * actor of one test at a time and is reused across trials, batches and tests (spawning a worker
 * costs tens of milliseconds).
 *
 * Protocol (main → actor):
 *   load   { file, test, actor, actors, mode, control, maxDecisions }  import the test file
 *   batch  { base, states, seeds, delays, kill, perturb, spurious }    run trials, reply 'done'
 * Replies: loaded { threadId } | load-error { error } | done { results, histories, snapshots, ops }
 */
import type { MessagePort } from 'node:worker_threads';
import { threadId } from 'node:worker_threads';
import {
  actorRandom,
  installShim,
  StressDriver,
  seedActorRandom,
  useExplore,
  useStress,
} from './atomics-shim.ts';
import { ExploreControl, ExploreWord, StressWord, type TrialSnapshot } from './control.ts';
import type { ActorContext, RaceMode, RaceTest } from './define.ts';
import { testsOfModule } from './define.ts';
import {
  describeError,
  type ErrorInfo,
  RaceTestNotFoundError,
  RaceUnsupportedError,
} from './errors.ts';
import type { HistoryOp } from './linearizability.ts';
import { importTestModule } from './load.ts';
import { type ActorResult, errorResult } from './outcomes.ts';
import { hashSeed } from './prng.ts';
import { RealAtomics as RA, realPause } from './real-atomics.ts';
import { ExploreScheduler, RaceAbort } from './scheduler.ts';

export interface LoadMessage {
  type: 'load';
  file: string;
  test: string;
  actor: number;
  actors: number;
  mode: RaceMode;
  control: SharedArrayBuffer;
  maxDecisions: number;
}

export interface BatchMessage {
  type: 'batch';
  base: number;
  states: unknown[];
  seeds: number[];
  /** Per trial: [actor, param]: explore — held back until decision param; stress — spin at op param. */
  delays: number[];
  /** Explore: killed at step; stress: killed at its Atomics call number `step`. Batch of one. */
  kill: { actor: number; step: number } | null;
  /** Stress: perturbation level for this batch (0 none, 1 light, 2 heavy). */
  perturb: number;
  spurious: number;
}

export interface DoneMessage {
  type: 'done';
  results: ActorResult[];
  histories: (HistoryOp[] | null)[];
  snapshots: TrialSnapshot[];
  ops: number[];
}

export type ToActor = LoadMessage | BatchMessage | { type: 'exit' };

export type FromActor =
  | { type: 'loaded'; threadId: number }
  | { type: 'load-error'; error: ErrorInfo }
  | DoneMessage
  | { type: 'fatal'; error: ErrorInfo };

const DELAY_SPINS = 20_000;

/** An error to post to the main thread (named like an actor's error result). */
function serialError(error: unknown): ErrorInfo {
  return describeError(error, 'thrown');
}

function isPrimitive(v: unknown): boolean {
  return v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol');
}

/** A value that survives postMessage, or an error result saying why not. */
function postable(value: unknown): ActorResult {
  if (isPrimitive(value)) return { v: value };
  try {
    return { v: structuredClone(value) };
  } catch (error) {
    return {
      e: {
        name: 'DataCloneError',
        message: `the actor returned a value that cannot be posted to the main thread: ${(error as Error).message}`,
      },
    };
  }
}

function postableValue(value: unknown): unknown {
  const r = postable(value);
  return 'v' in r ? r.v : `<not postable: ${typeof value}>`;
}

interface Loaded {
  test: RaceTest;
  actor: number;
  actors: number;
  mode: RaceMode;
  ctl: Int32Array;
  scheduler: ExploreScheduler | null;
  stress: StressDriver | null;
}

/**
 * The stress-mode start line of a batch, in two phases so that the actors really start together.
 * Arrive: count in, and park if the others are slow (the last to arrive wakes everyone). Go: count
 * in again and spin until all have — by then every thread is awake, so they leave the line close
 * together. Parking in the first phase keeps oversubscribed runs from burning CPU.
 */
function startLine(ctl: Int32Array, target: number): void {
  if (RA.add(ctl, StressWord.ARRIVED, 1) + 1 >= target) {
    RA.notify(ctl, StressWord.ARRIVED);
  } else {
    for (let spins = 0; ; spins++) {
      const seen = RA.load(ctl, StressWord.ARRIVED);
      if (seen >= target) break;
      if (spins < 2000) realPause();
      else RA.wait(ctl, StressWord.ARRIVED, seen, 20);
    }
  }
  RA.add(ctl, StressWord.GO, 1);
  for (let spins = 0; ; spins++) {
    const seen = RA.load(ctl, StressWord.GO);
    if (seen >= target) break;
    if (spins < 5000) realPause();
    else RA.wait(ctl, StressWord.GO, seen, 0.05);
  }
}

const CHECKPOINT_SPINS = 2000;

/**
 * The per-trial checkpoint of a stride (jcstress style): announce trial k, then spin a bounded
 * while for the other actors to reach it too, so that the actors of one trial run at the same time
 * and collide. It never parks: if another actor is descheduled, this one goes ahead rather than
 * wait for the OS (trials then overlap less, but the run never crawls).
 */
function checkpoint(ctl: Int32Array, me: number, actors: number, k: number): void {
  RA.store(ctl, StressWord.REACHED + me, k + 1);
  for (let t = 0; t < actors; t++) {
    if (t === me) continue;
    for (
      let spins = 0;
      RA.load(ctl, StressWord.REACHED + t) <= k && spins < CHECKPOINT_SPINS;
      spins++
    ) {
      realPause();
    }
  }
}

export class ActorHost {
  readonly #port: MessagePort;
  #loaded: Loaded | undefined;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  start(): void {
    installShim();
    this.#port.on('message', (message: ToActor) => {
      this.#handle(message).catch((error: unknown) => {
        this.#post({ type: 'fatal', error: serialError(error) });
      });
    });
  }

  #post(message: FromActor): void {
    this.#port.postMessage(message);
  }

  async #handle(message: ToActor): Promise<void> {
    if (message.type === 'exit') {
      process.exit(0);
    }
    if (message.type === 'load') {
      try {
        await this.#load(message);
        this.#post({ type: 'loaded', threadId });
      } catch (error) {
        this.#post({ type: 'load-error', error: serialError(error) });
      }
      return;
    }
    const loaded = this.#loaded;
    if (loaded === undefined) throw new Error('batch before load');
    this.#post(
      loaded.scheduler !== null
        ? this.#exploreBatch(loaded, loaded.scheduler, message)
        : await this.#stressBatch(loaded, loaded.stress!, message),
    );
  }

  async #load(message: LoadMessage): Promise<void> {
    this.#loaded = undefined;
    useExplore(null);
    useStress(null);
    const mod = await importTestModule(message.file);
    const test = testsOfModule(mod, message.file).find((t) => t.name === message.test);
    if (test === undefined) throw new RaceTestNotFoundError(message.test, message.file);
    if (test.actors.length !== message.actors || test.actors[message.actor] === undefined) {
      throw new Error(
        `test ${JSON.stringify(test.name)} has ${test.actors.length} actors in this thread but ${message.actors} on the main thread`,
      );
    }
    let scheduler: ExploreScheduler | null = null;
    let stress: StressDriver | null = null;
    let ctl: Int32Array;
    if (message.mode === 'explore') {
      const control = new ExploreControl(message.control, message.maxDecisions);
      scheduler = new ExploreScheduler(control, message.actor, message.actors);
      ctl = control.i32;
    } else {
      stress = new StressDriver();
      ctl = new Int32Array(message.control);
    }
    this.#loaded = {
      test,
      actor: message.actor,
      actors: message.actors,
      mode: message.mode,
      ctl,
      scheduler,
      stress,
    };
    useExplore(scheduler);
    useStress(stress);
  }

  #context(
    loaded: Loaded,
    trial: number,
    history: HistoryOp[] | null,
    clock: number,
  ): ActorContext {
    const { actor, actors, mode, ctl } = loaded;
    return {
      actor,
      actors,
      trial,
      mode,
      threadId,
      random: mode === 'explore' ? actorRandom : Math.random,
      op<T>(name: string, input: unknown, fn: () => T): T {
        const call = RA.add(ctl, clock, 1);
        let output: T;
        try {
          output = fn();
        } catch (error) {
          history?.push({
            actor,
            op: name,
            input: postableValue(input),
            output: undefined,
            call,
            ret: Number.POSITIVE_INFINITY,
          });
          throw error;
        }
        const ret = RA.add(ctl, clock, 1);
        history?.push({
          actor,
          op: name,
          input: postableValue(input),
          output: postableValue(output),
          call,
          ret,
        });
        return output;
      },
    };
  }

  #exploreBatch(loaded: Loaded, scheduler: ExploreScheduler, batch: BatchMessage): DoneMessage {
    const fn = loaded.test.actors[loaded.actor]!;
    const lin = loaded.test.type === 'linearizability';
    const results: ActorResult[] = [];
    const histories: (HistoryOp[] | null)[] = [];
    scheduler.startBatch({ seeds: batch.seeds, delays: batch.delays, kill: batch.kill });
    for (let k = 0; k < batch.states.length; k++) {
      const state = batch.states[k];
      const history = lin ? [] : null;
      const entry = scheduler.enterTrial(k, state);
      if (entry === 'skip') {
        results.push({ k: 'skipped' });
        histories.push(history);
        continue;
      }
      let result: ActorResult;
      if (entry === 'aborted') {
        result = { k: 'aborted' };
      } else {
        seedActorRandom(hashSeed(batch.seeds[k] ?? 0, loaded.actor, 'actor'));
        const ctx = this.#context(loaded, batch.base + k, history, ExploreWord.LIN_CLOCK);
        try {
          const value = fn(state, ctx);
          if (value !== null && typeof (value as { then?: unknown })?.then === 'function') {
            throw new RaceUnsupportedError(
              'an async actor (it returned a promise)',
              'explore-mode actors must be synchronous; run async actors in stress mode (modes: ["stress"])',
            );
          }
          result = postable(value);
        } catch (error) {
          result = error instanceof RaceAbort ? { k: 'aborted' } : errorResult(error);
        }
      }
      scheduler.exitTrial();
      results.push(result);
      histories.push(history);
    }
    return { type: 'done', results, histories, snapshots: [...scheduler.snapshots], ops: [] };
  }

  async #stressBatch(
    loaded: Loaded,
    driver: StressDriver,
    batch: BatchMessage,
  ): Promise<DoneMessage> {
    const fn = loaded.test.actors[loaded.actor]!;
    const lin = loaded.test.type === 'linearizability';
    const { ctl, actors, actor } = loaded;
    const results: ActorResult[] = [];
    const histories: (HistoryOp[] | null)[] = [];
    const ops: number[] = [];
    startLine(ctl, actors);
    for (let k = 0; k < batch.states.length; k++) {
      const state = batch.states[k];
      const history = lin ? [] : null;
      checkpoint(ctl, actor, actors, k);
      const delayed = batch.delays[2 * k] === actor;
      driver.beginTrial({
        seed: hashSeed(batch.seeds[k] ?? 0, actor, 'stress'),
        perturb: batch.perturb,
        spurious: batch.spurious,
        killAt: batch.kill !== null && batch.kill.actor === actor && k === 0 ? batch.kill.step : 0,
        delayAt: delayed ? (batch.delays[2 * k + 1] ?? 0) : 0,
        delaySpins: DELAY_SPINS,
      });
      const ctx = this.#context(loaded, batch.base + k, history, StressWord.LIN_CLOCK);
      let result: ActorResult;
      try {
        let value = fn(state, ctx);
        if (value !== null && typeof (value as { then?: unknown })?.then === 'function') {
          value = await value;
        }
        result = postable(value);
      } catch (error) {
        result = errorResult(error);
      }
      driver.endTrial();
      ops.push(driver.ops);
      results.push(result);
      histories.push(history);
      RA.add(ctl, StressWord.TRIALS_DONE + actor, 1);
    }
    return { type: 'done', results, histories, snapshots: [], ops };
  }
}
