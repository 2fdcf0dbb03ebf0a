/**
 * One test in one mode, from the first batch to the filled-in report. Per batch:
 *
 * 1. plan it — the trials' seeds, the injected faults (a kill makes a batch of one trial), and a
 *    fresh state from setup() for each trial (a "stride" of states);
 * 2. run it — the plan goes to every actor thread in one message; the threads run the trials
 *    (stress: meeting at a shared-memory start line; explore: under the token-passing scheduler)
 *    and reply once, while a watchdog checks that they make progress;
 * 3. count it — each trial's outcome id (judge.ts) is graded and counted, with a sample (and, in
 *    explore mode, a replay trace) the first time it appears;
 * 4. size the next batch so that one takes ~80 ms (explore) or ~40 ms (stress).
 *
 * A batch whose threads make no progress for the test's timeoutMs ends the run: the trial in
 * progress is reported as 'timeout' and every actor thread is terminated (RaceRunner respawns them
 * for the next test). A thread that a kill fault terminated is replaced before the next batch.
 */
import { AtomvisorError } from '../errors.ts';
import type { BatchMessage, DoneMessage } from './actor-host.ts';
import type { ActorPool, ActorThread } from './actor-pool.ts';
import {
  ExploreControl,
  ExploreWord,
  STRATEGY_CODES,
  StressWord,
  snapshotOf,
  type TrialSnapshot,
} from './control.ts';
import type { FaultOptions, RaceMode, RaceTest } from './define.ts';
import { describeError } from './errors.ts';
import { cutShortVerdict, judgeTrial, type Verdict } from './judge.ts';
import { OutcomeTally } from './outcome-tally.ts';
import type { ActorResult } from './outcomes.ts';
import { hashSeed, Rng } from './prng.ts';
import { RealAtomics as RA } from './real-atomics.ts';
import { checkShareableState } from './state.ts';
import type { TestReport, TestRunOptions } from './test-report.ts';
import { encodeTrace, type StrategyName } from './trace.ts';
import { Stuck, Watchdog } from './watchdog.ts';

type Kill = { actor: number; step: number };

/** A batch as planned: what goes to the actor threads, and what counting its trials needs. */
interface Batch {
  /** The run's number of the batch's first trial. */
  base: number;
  size: number;
  seeds: number[];
  /** Per trial: [actor, param] or [-1, 0] (see BatchMessage.delays). */
  delays: number[];
  states: unknown[];
  kill: Kill | null;
}

type Replies = (DoneMessage | 'killed')[];

/** Batch duration the batch size aims at, per mode (ms). */
const TARGET_BATCH_MS = { explore: 80, stress: 40 } as const;
const MAX_BATCH_SIZE = 4096;

export class TestRun {
  readonly #pool: ActorPool;
  readonly #file: string;
  readonly #test: RaceTest;
  readonly #options: TestRunOptions;
  readonly #report: TestReport;
  readonly #mode: RaceMode;
  /** Actors (= threads) of the test. */
  readonly #n: number;
  readonly #strategy: StrategyName | undefined;
  readonly #faults: Required<FaultOptions>;
  readonly #maxSteps: number;
  readonly #spuriousPpm: number;
  /** Draws the injected faults (not the trials: each trial's seed comes from hashSeed). */
  readonly #rng: Rng;
  readonly #explore: ExploreControl | undefined;
  readonly #stress: Int32Array | undefined;
  readonly #controlBuffer: SharedArrayBuffer;
  readonly #watchdog: Watchdog;
  /** Counts the outcomes from the first trial on (made when the threads are loaded). */
  #tally!: OutcomeTally;
  #threads: ActorThread[] = [];
  #threadIds: number[] = [];
  #started = 0;
  /** Trials run so far: the next batch's first trial. */
  #trials = 0;
  #batchSize: number;
  #batches = 0;
  // Running averages that place injected faults: steps and decisions per explore trial, and
  // Atomics calls per trial of each stress actor.
  #avgSteps = 8;
  #avgDecisions = 4;
  readonly #avgOps: number[];
  #kills = 0;
  #delays = 0;

  /** `strategy`: explore mode's (or 'replay'), undefined in stress mode; `report` is filled in. */
  constructor(
    pool: ActorPool,
    file: string,
    test: RaceTest,
    options: TestRunOptions,
    strategy: StrategyName | undefined,
    report: TestReport,
  ) {
    this.#pool = pool;
    this.#file = file;
    this.#test = test;
    this.#options = options;
    this.#report = report;
    this.#mode = options.mode;
    this.#n = test.actors.length;
    this.#strategy = strategy;
    this.#faults = effectiveFaults(test, options.faults);
    this.#maxSteps = options.replay?.maxSteps ?? test.explore.maxSteps;
    this.#spuriousPpm = options.replay?.spuriousPpm ?? Math.round(this.#faults.spurious * 1e6);
    this.#rng = new Rng(hashSeed(options.seed, test.name, this.#mode, 'plan'));
    this.#batchSize = options.replay ? 1 : this.#mode === 'explore' ? 8 : 32;
    this.#avgOps = new Array(this.#n).fill(4);
    if (this.#mode === 'explore') {
      this.#explore = this.#exploreControl();
      this.#controlBuffer = this.#explore.buffer;
    } else {
      this.#controlBuffer = new SharedArrayBuffer(StressWord.WORDS * 4);
      this.#stress = new Int32Array(this.#controlBuffer);
    }
    this.#watchdog = new Watchdog(test, this.#explore ?? this.#stress!);
  }

  /** Run batches until the budget, the trial limit, DFS exhaustion or (failFast) a failure. */
  async run(): Promise<void> {
    const options = this.#options;
    this.#threads = this.#pool.get(this.#n);
    await this.#loadThreads();
    this.#started = performance.now();
    this.#tally = new OutcomeTally(this.#test, this.#report, options.fileArg, this.#started);
    const deadline = this.#started + options.timeMs;
    const maxTrials = options.replay
      ? options.replay.repeat
      : (options.maxTrials ?? Number.POSITIVE_INFINITY);
    while (this.#trials < maxTrials && performance.now() < deadline) {
      const batch = this.#planBatch(maxTrials - this.#trials);
      const batchStart = performance.now();
      const replies = await this.#runBatch(batch);
      const batchMs = performance.now() - batchStart;
      if (replies instanceof Stuck) {
        await this.#countStuck(batch, replies);
        break;
      }
      const exhausted = this.#countBatch(batch, replies);
      if (this.#mode === 'stress') this.#averageOps(replies);
      this.#trials += batch.size;
      await this.#replaceKilled(batch, replies);
      if (exhausted) {
        this.#report.exhausted = true;
        break;
      }
      if (options.failFast && this.#report.forbidden > 0) break;
      if (batch.kill === null) this.#resizeBatches(batchMs);
    }
    this.#finish();
  }

  // -----------------------------------------------------------------------------------------------
  // Setting up

  /** The explore control buffer, set up for this test, strategy and (replay) forced choices. */
  #exploreControl(): ExploreControl {
    const test = this.#test;
    const replay = this.#options.replay;
    const control = ExploreControl.create(this.#maxSteps);
    const i = control.i32;
    i[ExploreWord.STRATEGY] = this.#strategy === undefined ? 0 : STRATEGY_CODES[this.#strategy];
    i[ExploreWord.MAX_STEPS] = this.#maxSteps;
    i[ExploreWord.PCT_DEPTH] = test.explore.pctDepth;
    i[ExploreWord.PREEMPTION_BOUND] = test.explore.preemptionBound;
    i[ExploreWord.SPURIOUS_PPM] = this.#spuriousPpm;
    i[ExploreWord.TRIAL] = -1;
    i[ExploreWord.PREFIX_LEN] = 0;
    if (replay) {
      const len = Math.min(replay.choices.length, control.maxDecisions);
      control.forced.set(replay.choices.subarray(0, len));
      i[ExploreWord.PREFIX_LEN] = len;
    }
    return control;
  }

  async #loadThreads(): Promise<void> {
    const threads = this.#threads;
    await this.#pool.load(
      threads,
      this.#file,
      this.#test,
      this.#mode,
      this.#controlBuffer,
      this.#maxSteps,
    );
    this.#threadIds = threads.map((t) => t.threadId);
  }

  // -----------------------------------------------------------------------------------------------
  // 1. Planning a batch

  /** The next batch, of at most `trialsLeft` trials. */
  #planBatch(trialsLeft: number): Batch {
    const kill = this.#planKill();
    const size = kill !== null ? 1 : Math.max(1, Math.min(this.#batchSize, trialsLeft));
    const batch: Batch = { base: this.#trials, size, seeds: [], delays: [], states: [], kill };
    for (let k = 0; k < size; k++) {
      const replay = this.#options.replay;
      const seed = replay
        ? replay.seed
        : hashSeed(this.#options.seed, this.#test.name, this.#mode, batch.base + k);
      batch.seeds.push(seed);
      batch.delays.push(...this.#planDelay());
      batch.states.push(this.#freshState());
    }
    return batch;
  }

  /** Random faults: not while DFS enumerates schedules nor while a trace is replayed. */
  get #randomFaults(): boolean {
    return this.#strategy !== 'dfs' && !this.#options.replay;
  }

  /** Whether this batch is one trial with a kill, and whom it kills at which step / call. */
  #planKill(): Kill | null {
    const replayed = this.#options.replay?.faults.kill;
    if (replayed) return { ...replayed };
    const drawn =
      this.#randomFaults &&
      this.#test.type !== 'linearizability' &&
      this.#faults.kill > 0 &&
      this.#rng.random() < this.#faults.kill;
    if (!drawn) return null;
    const victim = this.#rng.int(this.#n);
    const typical = this.#mode === 'explore' ? this.#avgSteps : this.#avgOps[victim]!;
    return { actor: victim, step: 1 + this.#rng.int(Math.max(1, Math.round(typical))) };
  }

  /** A trial's delay: [actor, until decision (explore) / at Atomics call (stress)], or [-1, 0]. */
  #planDelay(): [number, number] {
    const replayed = this.#options.replay?.faults.delay;
    if (replayed) return [replayed.actor, replayed.until];
    if (!this.#randomFaults || !(this.#faults.delay > 0 && this.#rng.random() < this.#faults.delay))
      return [-1, 0];
    const victim = this.#rng.int(this.#n);
    const param =
      this.#mode === 'explore'
        ? 1 + this.#rng.int(Math.max(2, Math.round(2 * this.#avgDecisions)))
        : 1 + this.#rng.int(Math.max(1, Math.round(this.#avgOps[victim]!)));
    return [victim, param];
  }

  /** A trial's state from the test's setup(), checked to be shareable with the actor threads. */
  #freshState(): unknown {
    const what = `setup() of test ${JSON.stringify(this.#test.name)}`;
    let state: unknown;
    try {
      state = this.#test.setup();
    } catch (error) {
      throw new AtomvisorError(
        'ERR_ATOMVISOR_RACE_SETUP',
        `${what} threw: ${describeError(error).message}`,
        { cause: error },
      );
    }
    checkShareableState(state, `${what} returned state`);
    return state;
  }

  // -----------------------------------------------------------------------------------------------
  // 2. Running a batch

  async #runBatch(batch: Batch): Promise<Replies | Stuck> {
    const message: BatchMessage = {
      type: 'batch',
      base: batch.base,
      states: batch.states,
      seeds: batch.seeds,
      delays: batch.delays,
      kill: batch.kill,
      perturb: this.#mode === 'stress' && this.#options.perturb !== false ? this.#batches % 3 : 0,
      spurious: this.#faults.spurious,
    };
    this.#batches++;
    if (this.#stress) {
      for (let w = 0; w < this.#stress.length; w++) RA.store(this.#stress, w, 0);
    } else if (this.#explore) {
      RA.store(this.#explore.i32, ExploreWord.LIN_CLOCK, 0);
    }
    for (const t of this.#threads) t.post(message);
    return this.#collect(batch);
  }

  /**
   * Every actor's reply to the batch, or the watchdog's Stuck when the threads stop making
   * progress. A thread that fails (exits, throws outside a trial) terminates them all and throws.
   */
  async #collect(batch: Batch): Promise<Replies | Stuck> {
    const replies: (DoneMessage | 'killed' | undefined)[] = new Array(this.#n);
    const failed: { error?: Error } = {};
    const waits = this.#threads.map(async (thread, t) => {
      for (;;) {
        const m = await thread.next();
        if (m.type === 'done') {
          replies[t] = m;
          return;
        }
        if (m.type === 'exit') {
          if (batch.kill !== null && batch.kill.actor === t) {
            replies[t] = 'killed';
            return;
          }
          failed.error ??= new AtomvisorError(
            'ERR_ATOMVISOR_RACE_ACTOR_EXIT',
            `actor ${t} of ${JSON.stringify(this.#test.name)} ended its thread (exit code ${m.code}): an actor must return, not exit`,
          );
          return;
        }
        if (m.type === 'error' || m.type === 'fatal') {
          failed.error ??=
            m.type === 'error'
              ? m.error
              : Object.assign(new Error(m.error.message), { name: m.error.name });
          return;
        }
      }
    });
    const watchdog = this.#watchdog.watch(batch.size, failed);
    try {
      const outcome = await Promise.race([Promise.all(waits), watchdog.stuck]);
      if (outcome instanceof Stuck) return outcome;
    } finally {
      watchdog.stop();
    }
    if (failed.error !== undefined) {
      await this.#pool.terminateAll();
      throw failed.error;
    }
    return replies as Replies;
  }

  // -----------------------------------------------------------------------------------------------
  // 3. Counting the trials

  /** The stuck trial is the one in progress: count it as a timeout, and end the run's threads. */
  async #countStuck(batch: Batch, stuck: Stuck): Promise<void> {
    this.#tally.count('timeout', false, {
      trial: batch.base + stuck.index,
      seed: batch.seeds[stuck.index] ?? 0,
      detail: stuck.detail,
    });
    // Trials before the stuck one finished, but their results died with the threads.
    this.#report.trials += 1;
    await this.#pool.terminateAll();
  }

  /** Count every trial of a batch; true if DFS found every schedule explored. */
  #countBatch(batch: Batch, replies: Replies): boolean {
    const snapshots = this.#snapshots(batch, replies);
    let exhausted = false;
    for (let k = 0; k < batch.size; k++) {
      const results: ActorResult[] = replies.map((r) =>
        r === 'killed' ? { k: 'killed' } : (r.results[k] ?? { k: 'skipped' }),
      );
      // DFS: every schedule within the bound was explored; the rest of the batch was skipped.
      if (results.some((r) => 'k' in r && r.k === 'skipped')) {
        exhausted = true;
        continue;
      }
      this.#countTrial(batch, k, snapshots[k], results, replies);
    }
    return exhausted;
  }

  /** Explore mode: each trial's snapshot (the batch's last one is still in the control buffer). */
  #snapshots(batch: Batch, replies: Replies): (TrialSnapshot | undefined)[] {
    const snapshots: (TrialSnapshot | undefined)[] = new Array(batch.size);
    if (this.#explore) {
      for (const r of replies)
        if (r !== 'killed') for (const s of r.snapshots) snapshots[s.index] = s;
      snapshots[batch.size - 1] = snapshotOf(this.#explore, this.#n, batch.size - 1);
    }
    return snapshots;
  }

  #countTrial(
    batch: Batch,
    k: number,
    snap: TrialSnapshot | undefined,
    results: ActorResult[],
    replies: Replies,
  ): void {
    const killed: number[] = [];
    if (snap && snap.killed >= 0) killed.push(snap.killed);
    replies.forEach((r, t) => {
      if (r === 'killed' && !killed.includes(t)) killed.push(t);
    });
    for (const t of killed) results[t] = { k: 'killed' };
    if (killed.length > 0) this.#kills++;
    if ((batch.delays[2 * k] ?? -1) >= 0) this.#delays++;
    const { id, detail } = this.#verdict(batch, k, snap, results, replies, killed);
    const trace = snap ? this.#trace(batch, k, snap) : undefined;
    this.#tally.count(id, killed.length > 0, {
      trial: batch.base + k,
      seed: batch.seeds[k]!,
      ...(trace ? { trace } : {}),
      ...(detail !== undefined ? { detail } : {}),
    });
    this.#report.trials++;
    if (snap) this.#countSteps(snap);
  }

  #verdict(
    batch: Batch,
    k: number,
    snap: TrialSnapshot | undefined,
    results: ActorResult[],
    replies: Replies,
    killed: number[],
  ): Verdict {
    const replaying = this.#options.replay !== undefined;
    const cutShort = snap && cutShortVerdict(snap, this.#n, this.#maxSteps, replaying);
    return (
      cutShort ??
      judgeTrial({
        test: this.#test,
        mode: this.#mode,
        trial: batch.base + k,
        index: k,
        state: batch.states[k],
        results,
        replies,
        killed,
        threadIds: this.#threadIds,
      })
    );
  }

  /** The replay trace of explore trial k of the batch. */
  #trace(batch: Batch, k: number, snap: TrialSnapshot): string | undefined {
    if (this.#mode !== 'explore') return undefined;
    const delayed = batch.delays[2 * k] ?? -1;
    return encodeTrace({
      strategy: this.#options.replay?.strategy ?? this.#strategy ?? 'pct',
      seed: batch.seeds[k]!,
      test: this.#test.name,
      maxSteps: this.#maxSteps,
      spuriousPpm: this.#spuriousPpm,
      faults: {
        ...(k === 0 && batch.kill !== null ? { kill: batch.kill } : {}),
        ...(delayed >= 0 ? { delay: { actor: delayed, until: batch.delays[2 * k + 1]! } } : {}),
      },
      choices: snap.choices,
    });
  }

  #countSteps(snap: TrialSnapshot): void {
    this.#report.steps += snap.steps;
    this.#report.fastForwarded += snap.ffSteps;
    this.#report.decisions += snap.decisions;
    this.#avgSteps = 0.9 * this.#avgSteps + 0.1 * snap.steps;
    this.#avgDecisions = 0.9 * this.#avgDecisions + 0.1 * snap.decisions;
  }

  // -----------------------------------------------------------------------------------------------
  // 4. Between batches

  /** Stress mode: each actor's Atomics calls per trial, for placing the next kill or delay. */
  #averageOps(replies: Replies): void {
    replies.forEach((r, t) => {
      if (r === 'killed' || r.ops.length === 0) return;
      const mean = r.ops.reduce((a, b) => a + b, 0) / r.ops.length;
      this.#avgOps[t] = 0.8 * this.#avgOps[t]! + 0.2 * mean;
    });
  }

  /** A killed actor's thread is gone: the next batch gets a fresh one, with the test loaded. */
  async #replaceKilled(batch: Batch, replies: Replies): Promise<void> {
    for (const [t, r] of replies.entries())
      if (r === 'killed') await this.#pool.replace(this.#threads[t]!);
    if (batch.kill !== null && replies.some((r) => r === 'killed')) {
      this.#threads = this.#pool.get(this.#n);
      await this.#loadThreads();
    }
  }

  /** Scale the batch size (×¼ .. ×4, at most MAX_BATCH_SIZE) towards the target duration. */
  #resizeBatches(batchMs: number): void {
    const scale = batchMs > 0 ? TARGET_BATCH_MS[this.#mode] / batchMs : 2;
    this.#batchSize = Math.max(
      1,
      Math.min(MAX_BATCH_SIZE, Math.round(this.#batchSize * Math.min(4, Math.max(0.25, scale)))),
    );
  }

  #finish(): void {
    const report = this.#report;
    report.durationMs = Math.round(performance.now() - this.#started);
    report.outcomes = this.#tally.rows();
    if (this.#kills > 0 || this.#delays > 0)
      report.faults = { kills: this.#kills, delays: this.#delays };
  }
}

/** The faults to inject: the test's own, raised to the run's (max of the two, per fault). */
function effectiveFaults(test: RaceTest, extra: FaultOptions | undefined): Required<FaultOptions> {
  return {
    kill: Math.max(test.faults.kill, extra?.kill ?? 0),
    delay: Math.max(test.faults.delay, extra?.delay ?? 0),
    spurious: Math.max(test.faults.spurious, extra?.spurious ?? 0),
  };
}
