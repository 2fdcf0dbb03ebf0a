/**
 * The main-thread side of the race harness: runs a test in stress or explore mode for a time
 * budget, on a pool of reusable actor threads, and turns the trials into an outcome histogram.
 *
 * Per batch of trials: setup() runs here B times (each trial gets fresh state: a "stride" of state
 * objects), the states go to every actor thread in one message, the threads run the B trials
 * (stress: meeting at a shared-memory start line before each; explore: under the token-passing
 * scheduler), and the results come back in one message. Then the arbiter (or the linearizability
 * checker) runs here on each trial's state, and each outcome id is graded.
 *
 * A watchdog ends a batch whose threads stop making progress for the test's timeoutMs: the trial
 * is reported as 'timeout', every actor thread is terminated (and respawned for the next test), and
 * the test stops. Nothing the actors do can hang the run.
 */
import type { Worker } from 'node:worker_threads';
import { AtomvisorError, InvalidArgumentError } from '../errors.ts';
import { spawnWorker, workerEntry } from '../spawn-worker.ts';
import type { BatchMessage, DoneMessage, FromActor, LoadMessage } from './actor-host.ts';
import {
  ActorStatus,
  ExploreControl,
  ExploreWord,
  MAX_EXPLORE_ACTORS,
  OP_NAMES,
  PRIVATE_BUFFER_IDS,
  STRATEGY_CODES,
  StressWord,
  TrialStatus,
} from './control.ts';
import {
  type ArbiterContext,
  type Expect,
  type FaultOptions,
  InvariantViolation,
  type RaceMode,
  type RaceTest,
} from './define.ts';
import {
  checkLinearizability,
  formatHistory,
  type HistoryOp,
  shortestFailingPrefix,
} from './linearizability.ts';
import { type ActorResult, grade, outcomeId } from './outcomes.ts';
import { hashSeed, Rng } from './prng.ts';
import { RealAtomics as RA } from './real-atomics.ts';
import { snapshotOf, type TrialSnapshot } from './scheduler.ts';
import { checkShareableState } from './state.ts';
import { encodeTrace, type StrategyName, type TraceFaults } from './trace.ts';

export type ExploreStrategy = 'random' | 'pct' | 'dfs';

const ACTOR_ENTRY = workerEntry(import.meta.url, '../../workers/race-actor');
const LOAD_TIMEOUT_MS = 60_000;

// -------------------------------------------------------------------------------------------------
// Reports

export interface OutcomeSample {
  trial: number;
  seed: number;
  /** Explore mode: the replay trace of the trial. */
  trace?: string;
  /** Why: a deadlock's blocked actors, an error's message, a minimal non-linearizable history... */
  detail?: string;
}

export interface OutcomeRow {
  id: string;
  count: number;
  expect: Expect;
  desc?: string;
  /** False when no `outcomes` entry matched and the default grade applied. */
  listed: boolean;
  /** The first trial that produced this outcome. */
  sample: OutcomeSample;
}

export interface TestReport {
  test: string;
  file: string;
  mode: RaceMode;
  strategy?: StrategyName;
  variant?: string;
  planted?: string;
  status: 'passed' | 'failed' | 'error';
  seed: number;
  trials: number;
  durationMs: number;
  /** Explore: scheduling points (Atomics calls that went through the scheduler). */
  steps: number;
  /** Explore: repeated spin reads let through without a scheduling point. */
  fastForwarded: number;
  /** Explore: scheduling points where the strategy had a real choice. */
  decisions: number;
  stepsPerSecond: number;
  trialsPerSecond: number;
  outcomes: OutcomeRow[];
  forbidden: number;
  interesting: number;
  firstForbidden?: {
    id: string;
    trial: number;
    afterMs: number;
    trace?: string;
    replay?: string;
  };
  /** DFS only: every schedule within the preemption bound was explored. */
  exhausted?: boolean;
  /** Faults injected (trials with a kill / a delay). */
  faults?: { kills: number; delays: number };
  error?: { name: string; code?: string; message: string };
}

/** A report with nothing counted yet: the identity fields, zero counters, no outcomes. */
export function emptyTestReport(
  fields: Pick<TestReport, 'test' | 'file' | 'mode' | 'status' | 'seed'> &
    Partial<Pick<TestReport, 'strategy' | 'variant' | 'planted' | 'error'>>,
): TestReport {
  return {
    ...fields,
    trials: 0,
    durationMs: 0,
    steps: 0,
    fastForwarded: 0,
    decisions: 0,
    stepsPerSecond: 0,
    trialsPerSecond: 0,
    outcomes: [],
    forbidden: 0,
    interesting: 0,
  };
}

// -------------------------------------------------------------------------------------------------
// Actor threads

type Message = FromActor | { type: 'exit'; code: number } | { type: 'error'; error: Error };

class ActorThread {
  readonly worker: Worker;
  alive = true;
  threadId = -1;
  loadedKey = '';
  readonly #queue: Message[] = [];
  #waiter: ((m: Message) => void) | undefined;

  constructor() {
    this.worker = spawnWorker(ACTOR_ENTRY, {});
    this.worker.on('message', (m: FromActor) => this.#push(m));
    this.worker.on('error', (error: Error) => this.#push({ type: 'error', error }));
    this.worker.on('exit', (code: number) => {
      this.alive = false;
      this.#push({ type: 'exit', code });
    });
  }

  #push(m: Message): void {
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w(m);
    } else this.#queue.push(m);
  }

  next(): Promise<Message> {
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

class Pool {
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
}

// -------------------------------------------------------------------------------------------------
// Running one test in one mode

export interface TestRunOptions {
  mode: RaceMode;
  strategy?: ExploreStrategy;
  seed: number;
  /** Budget for this test in this mode. */
  timeMs: number;
  maxTrials?: number;
  failFast?: boolean;
  /** Faults to inject on top of the test's own (max of the two, per fault). */
  faults?: FaultOptions;
  /** Stress mode: random short spins before Atomics calls (batches cycle none / light / heavy). Default true. */
  perturb?: boolean;
  /** Replay: force these choices with this trial seed, `repeat` times. */
  replay?: {
    /** The strategy that found the trace (kept in re-printed traces). */
    strategy: StrategyName;
    seed: number;
    choices: Uint8Array;
    maxSteps: number;
    spuriousPpm: number;
    faults: TraceFaults;
    repeat: number;
  };
  /** How to name the file in printed replay commands ('' for built-in suites). */
  fileArg?: string;
}

interface Sampled {
  row: OutcomeRow;
}

class Timeout {
  readonly detail: string;
  /** The stuck trial's index in its batch. */
  readonly index: number;
  constructor(detail: string, index: number) {
    this.detail = detail;
    this.index = index;
  }
}

function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: error.message,
    };
  }
  return { name: 'Error', message: String(error) };
}

function effectiveFaults(test: RaceTest, extra: FaultOptions | undefined): Required<FaultOptions> {
  return {
    kill: Math.max(test.faults.kill, extra?.kill ?? 0),
    delay: Math.max(test.faults.delay, extra?.delay ?? 0),
    spurious: Math.max(test.faults.spurious, extra?.spurious ?? 0),
  };
}

const STATUS_WORDS = [
  'not started',
  'runnable at',
  'blocked in',
  'returned after',
  'killed at',
  'unwinding at',
];

function describeOps(snapshot: TrialSnapshot, n: number, only: 'blocked' | 'all'): string {
  const parts: string[] = [];
  for (let t = 0; t < n; t++) {
    const [op, buf, byte, status] = snapshot.ops.slice(4 * t, 4 * t + 4) as [
      number,
      number,
      number,
      number,
    ];
    if (only === 'blocked' && (status === ActorStatus.DONE || status === ActorStatus.KILLED))
      continue;
    const where =
      buf < 0
        ? ''
        : ` on ${buf >= PRIVATE_BUFFER_IDS ? 'a private buffer' : `buffer #${buf}`} at byte ${byte}`;
    parts.push(`actor ${t} ${STATUS_WORDS[status] ?? 'at'} Atomics.${OP_NAMES[op] ?? op}${where}`);
  }
  return parts.join('; ');
}

export class RaceRunner {
  readonly #pool = new Pool();

  async close(): Promise<void> {
    await this.#pool.terminateAll();
  }

  /** Run `test` (loaded from `file`) in one mode for the budget. Never throws for test faults. */
  async run(file: string, test: RaceTest, options: TestRunOptions): Promise<TestReport> {
    const mode = options.mode;
    const strategyName: StrategyName | undefined =
      mode === 'explore' ? (options.replay ? 'replay' : (options.strategy ?? 'pct')) : undefined;
    const report: TestReport = emptyTestReport({
      test: test.name,
      file,
      mode,
      ...(strategyName ? { strategy: strategyName } : {}),
      ...(test.variant ? { variant: test.variant } : {}),
      ...(test.planted ? { planted: test.planted } : {}),
      status: 'passed',
      seed: options.seed >>> 0,
    });
    try {
      await this.#run(file, test, options, report, strategyName);
    } catch (error) {
      report.status = 'error';
      report.error = describeError(error);
    }
    if (report.status !== 'error') report.status = report.forbidden > 0 ? 'failed' : 'passed';
    const seconds = report.durationMs / 1000;
    report.stepsPerSecond = seconds > 0 ? Math.round(report.steps / seconds) : 0;
    report.trialsPerSecond = seconds > 0 ? Math.round(report.trials / seconds) : 0;
    return report;
  }

  async #run(
    file: string,
    test: RaceTest,
    options: TestRunOptions,
    report: TestReport,
    strategyName: StrategyName | undefined,
  ): Promise<void> {
    const mode = options.mode;
    const n = test.actors.length;
    if (!test.modes.includes(mode)) {
      throw new InvalidArgumentError(
        'mode',
        `test ${JSON.stringify(test.name)} runs only in ${test.modes.join(', ')} mode`,
      );
    }
    if (mode === 'explore' && n > MAX_EXPLORE_ACTORS) {
      throw new InvalidArgumentError(
        `test ${JSON.stringify(test.name)}: actors`,
        `explore mode schedules at most ${MAX_EXPLORE_ACTORS} actors (this test has ${n})`,
      );
    }
    const replay = options.replay;
    const faults = effectiveFaults(test, options.faults);
    const strategyCode = strategyName === undefined ? 0 : STRATEGY_CODES[strategyName];
    const dfs = strategyName === 'dfs';
    const maxSteps = replay?.maxSteps ?? test.explore.maxSteps;
    const spuriousPpm = replay?.spuriousPpm ?? Math.round(faults.spurious * 1e6);
    const rng = new Rng(hashSeed(options.seed, test.name, mode, 'plan'));

    // Control buffer
    let control: ExploreControl | undefined;
    let controlBuffer: SharedArrayBuffer;
    let stressCtl: Int32Array | undefined;
    if (mode === 'explore') {
      control = ExploreControl.create(maxSteps);
      const i = control.i32;
      i[ExploreWord.STRATEGY] = strategyCode;
      i[ExploreWord.MAX_STEPS] = maxSteps;
      i[ExploreWord.PCT_DEPTH] = test.explore.pctDepth;
      i[ExploreWord.PREEMPTION_BOUND] = test.explore.preemptionBound;
      i[ExploreWord.SPURIOUS_PPM] = spuriousPpm;
      i[ExploreWord.TRIAL] = -1;
      i[ExploreWord.PREFIX_LEN] = 0;
      if (replay) {
        const len = Math.min(replay.choices.length, control.maxDecisions);
        control.forced.set(replay.choices.subarray(0, len));
        i[ExploreWord.PREFIX_LEN] = len;
      }
      controlBuffer = control.buffer;
    } else {
      controlBuffer = new SharedArrayBuffer(StressWord.WORDS * 4);
      stressCtl = new Int32Array(controlBuffer);
    }

    // Threads
    const threads = this.#pool.get(n);
    await this.#load(threads, file, test, mode, controlBuffer, maxSteps);
    const threadIds = threads.map((t) => t.threadId);

    const rows = new Map<string, Sampled>();
    const started = performance.now();
    const deadline = started + options.timeMs;
    const maxTrials = replay ? replay.repeat : (options.maxTrials ?? Number.POSITIVE_INFINITY);
    let batchSize = replay ? 1 : mode === 'explore' ? 8 : 32;
    let trial = 0;
    let avgSteps = 8;
    let avgDecisions = 4;
    const avgOps: number[] = new Array(n).fill(4);
    let kills = 0;
    let delays = 0;
    let batchNo = 0;

    while (trial < maxTrials && performance.now() < deadline) {
      // Plan the batch.
      const canKill =
        !dfs &&
        !replay &&
        test.type !== 'linearizability' &&
        faults.kill > 0 &&
        rng.random() < faults.kill;
      let kill: { actor: number; step: number } | null = null;
      if (replay?.faults.kill) kill = { ...replay.faults.kill };
      else if (canKill) {
        const victim = rng.int(n);
        kill = {
          actor: victim,
          step:
            1 + rng.int(Math.max(1, Math.round(mode === 'explore' ? avgSteps : avgOps[victim]!))),
        };
      }
      const size = kill !== null ? 1 : Math.max(1, Math.min(batchSize, maxTrials - trial));
      const seeds: number[] = [];
      const delayPlan: number[] = [];
      const states: unknown[] = [];
      for (let k = 0; k < size; k++) {
        const seed = replay ? replay.seed : hashSeed(options.seed, test.name, mode, trial + k);
        seeds.push(seed);
        if (replay?.faults.delay) {
          delayPlan.push(replay.faults.delay.actor, replay.faults.delay.until);
        } else if (!dfs && !replay && faults.delay > 0 && rng.random() < faults.delay) {
          const victim = rng.int(n);
          const param =
            mode === 'explore'
              ? 1 + rng.int(Math.max(2, Math.round(2 * avgDecisions)))
              : 1 + rng.int(Math.max(1, Math.round(avgOps[victim]!)));
          delayPlan.push(victim, param);
        } else {
          delayPlan.push(-1, 0);
        }
        let state: unknown;
        try {
          state = test.setup();
        } catch (error) {
          throw new AtomvisorError(
            'ERR_ATOMVISOR_RACE_SETUP',
            `setup() of test ${JSON.stringify(test.name)} threw: ${describeError(error).message}`,
            { cause: error },
          );
        }
        checkShareableState(state, `setup() of test ${JSON.stringify(test.name)} returned state`);
        states.push(state);
      }
      const batch: BatchMessage = {
        type: 'batch',
        base: trial,
        states,
        seeds,
        delays: delayPlan,
        kill,
        perturb: mode === 'stress' && options.perturb !== false ? batchNo % 3 : 0,
        spurious: faults.spurious,
      };
      batchNo++;
      if (stressCtl) {
        for (let w = 0; w < stressCtl.length; w++) RA.store(stressCtl, w, 0);
      } else if (control) {
        RA.store(control.i32, ExploreWord.LIN_CLOCK, 0);
      }

      const batchStart = performance.now();
      for (const t of threads) t.post(batch);
      const replies = await this.#collect(threads, test, mode, control, stressCtl, size, kill);
      const batchMs = performance.now() - batchStart;

      if (replies instanceof Timeout) {
        // The stuck trial is the one in progress; finished ones were not reported, so count one.
        const stuck = trial + replies.index;
        const row = this.#record(rows, report, test, 'timeout', false, {
          trial: stuck,
          seed: seeds[replies.index] ?? 0,
          detail: replies.detail,
        });
        if (row.expect === 'forbidden' && report.firstForbidden === undefined) {
          report.firstForbidden = {
            id: 'timeout',
            trial: stuck,
            afterMs: Math.round(performance.now() - started),
          };
        }
        // Trials before the stuck one finished, but their results died with the threads.
        report.trials += 1;
        await this.#pool.terminateAll();
        break;
      }

      // Trial snapshots (explore).
      const snapshots: (TrialSnapshot | undefined)[] = new Array(size);
      if (control) {
        for (const r of replies)
          if (r !== 'killed') for (const s of r.snapshots) snapshots[s.index] = s;
        snapshots[size - 1] = snapshotOf(control, n, size - 1);
      }

      let exhausted = false;
      for (let k = 0; k < size; k++) {
        const snap = snapshots[k];
        const results: ActorResult[] = replies.map((r) =>
          r === 'killed' ? { k: 'killed' } : (r.results[k] ?? { k: 'skipped' }),
        );
        // DFS: every schedule within the bound was explored; the rest of the batch was skipped.
        if (results.some((r) => 'k' in r && r.k === 'skipped')) {
          exhausted = true;
          continue;
        }
        const killed: number[] = [];
        if (snap && snap.killed >= 0) killed.push(snap.killed);
        replies.forEach((r, t) => {
          if (r === 'killed' && !killed.includes(t)) killed.push(t);
        });
        for (const t of killed) results[t] = { k: 'killed' };
        if (killed.length > 0) kills++;
        if ((delayPlan[2 * k] ?? -1) >= 0) delays++;
        const seed = seeds[k]!;
        let id: string;
        let detail: string | undefined;
        if (snap && snap.status === TrialStatus.DEADLOCK) {
          id = 'deadlock';
          detail = `every live actor waits and none can wake: ${describeOps(snap, n, 'blocked')}`;
        } else if (snap && snap.status === TrialStatus.LIVELOCK) {
          id = 'livelock';
          detail = `no end after ${snap.steps} scheduling steps (explore.maxSteps ${maxSteps}): ${describeOps(snap, n, 'blocked')}`;
        } else if (snap && snap.status === TrialStatus.DIVERGED) {
          id = replay ? 'error:replay-diverged' : 'error:nondeterministic';
          detail = replay
            ? 'the trace no longer fits the test: a forced choice was not possible (was the test changed?)'
            : 'replaying a schedule prefix took a different path: the actors depend on something besides the schedule (time, I/O, state kept across trials)';
        } else {
          ({ id, detail } = this.#judge(
            test,
            mode,
            states[k],
            results,
            replies,
            k,
            killed,
            threadIds,
            trial + k,
          ));
        }
        const trace =
          mode === 'explore' && snap
            ? encodeTrace({
                strategy: replay?.strategy ?? strategyName ?? 'pct',
                seed,
                test: test.name,
                maxSteps,
                spuriousPpm,
                faults: {
                  ...(k === 0 && kill !== null && mode === 'explore' ? { kill } : {}),
                  ...((delayPlan[2 * k] ?? -1) >= 0
                    ? { delay: { actor: delayPlan[2 * k]!, until: delayPlan[2 * k + 1]! } }
                    : {}),
                },
                choices: snap.choices,
              })
            : undefined;
        const row = this.#record(rows, report, test, id, killed.length > 0, {
          trial: trial + k,
          seed,
          ...(trace ? { trace } : {}),
          ...(detail !== undefined ? { detail } : {}),
        });
        if (row.expect === 'forbidden' && report.firstForbidden === undefined) {
          report.firstForbidden = {
            id,
            trial: trial + k,
            afterMs: Math.round(performance.now() - started),
            ...(trace
              ? {
                  trace,
                  replay: `atomvisor race ${options.fileArg ? `${shellQuote(options.fileArg)} ` : ''}--replay ${shellQuote(trace)}`,
                }
              : {}),
          };
        }
        report.trials++;
        if (snap) {
          report.steps += snap.steps;
          report.fastForwarded += snap.ffSteps;
          report.decisions += snap.decisions;
          avgSteps = 0.9 * avgSteps + 0.1 * snap.steps;
          avgDecisions = 0.9 * avgDecisions + 0.1 * snap.decisions;
        }
      }
      if (mode === 'stress') {
        replies.forEach((r, t) => {
          if (r === 'killed' || r.ops.length === 0) return;
          const mean = r.ops.reduce((a, b) => a + b, 0) / r.ops.length;
          avgOps[t] = 0.8 * avgOps[t]! + 0.2 * mean;
        });
      }
      trial += size;
      // A killed actor's thread is gone: the next batch gets a fresh one.
      for (const [t, r] of replies.entries())
        if (r === 'killed') await this.#pool.replace(threads[t]!);
      if (kill !== null && replies.some((r) => r === 'killed')) {
        const fresh = this.#pool.get(n);
        threads.splice(0, threads.length, ...fresh);
        await this.#load(threads, file, test, mode, controlBuffer, maxSteps);
        threadIds.splice(0, n, ...threads.map((t) => t.threadId));
      }
      if (exhausted) {
        report.exhausted = true;
        break;
      }
      if (options.failFast && report.forbidden > 0) break;
      if (kill === null) {
        const target = mode === 'explore' ? 80 : 40;
        const scale = batchMs > 0 ? target / batchMs : 2;
        batchSize = Math.max(
          1,
          Math.min(4096, Math.round(batchSize * Math.min(4, Math.max(0.25, scale)))),
        );
      }
    }
    report.durationMs = Math.round(performance.now() - started);
    report.outcomes = [...rows.values()].map((s) => s.row);
    if (kills > 0 || delays > 0) report.faults = { kills, delays };
  }

  async #load(
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
          await this.#pool.terminateAll();
          throw new AtomvisorError(
            'ERR_ATOMVISOR_RACE_LOAD',
            `actor threads did not load ${file} within ${LOAD_TIMEOUT_MS} ms`,
          );
        }
        if (reply.type === 'loaded') {
          thread.threadId = reply.threadId;
          continue;
        }
        await this.#pool.terminateAll();
        if (reply.type === 'load-error' || reply.type === 'fatal') {
          const e = new AtomvisorError(
            reply.error.code ?? 'ERR_ATOMVISOR_RACE_LOAD',
            reply.error.message,
          );
          e.name = reply.error.name;
          throw e;
        }
        if (reply.type === 'error') throw reply.error;
        throw new AtomvisorError(
          'ERR_ATOMVISOR_RACE_LOAD',
          `an actor thread exited while loading ${file}`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Wait for every actor's reply to a batch, under the watchdog. */
  async #collect(
    threads: ActorThread[],
    test: RaceTest,
    mode: RaceMode,
    control: ExploreControl | undefined,
    stressCtl: Int32Array | undefined,
    size: number,
    kill: { actor: number; step: number } | null,
  ): Promise<(DoneMessage | 'killed')[] | Timeout> {
    const n = threads.length;
    const progress = (): number => {
      if (control) return RA.load(control.i32, ExploreWord.PROGRESS);
      let sum = RA.load(stressCtl!, StressWord.ARRIVED);
      for (let t = 0; t < n; t++) sum += RA.load(stressCtl!, StressWord.TRIALS_DONE + t);
      return sum;
    };
    const replies: (DoneMessage | 'killed' | undefined)[] = new Array(n);
    let failure: Error | undefined;
    const waits = threads.map(async (thread, t) => {
      for (;;) {
        const m = await thread.next();
        if (m.type === 'done') {
          replies[t] = m;
          return;
        }
        if (m.type === 'exit') {
          if (kill !== null && kill.actor === t) {
            replies[t] = 'killed';
            return;
          }
          failure ??= new AtomvisorError(
            'ERR_ATOMVISOR_RACE_ACTOR_EXIT',
            `actor ${t} of ${JSON.stringify(test.name)} ended its thread (exit code ${m.code}): an actor must return, not exit`,
          );
          return;
        }
        if (m.type === 'error' || m.type === 'fatal') {
          const e =
            m.type === 'error'
              ? m.error
              : Object.assign(new Error(m.error.message), { name: m.error.name });
          failure ??= e;
          return;
        }
      }
    });
    let last = progress();
    let lastChange = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<Timeout>((resolve) => {
      timer = setInterval(
        () => {
          const p = progress();
          const now = performance.now();
          if (p !== last || failure !== undefined) {
            last = p;
            lastChange = now;
          } else if (now - lastChange > test.timeoutMs) {
            resolve(this.#stuck(test, mode, control, stressCtl, size));
          }
        },
        Math.max(10, Math.min(100, test.timeoutMs / 4)),
      );
    });
    try {
      const outcome = await Promise.race([Promise.all(waits), watchdog]);
      if (outcome instanceof Timeout) return outcome;
    } finally {
      clearInterval(timer);
    }
    if (failure !== undefined) {
      await this.#pool.terminateAll();
      throw failure;
    }
    return replies as (DoneMessage | 'killed')[];
  }

  #stuck(
    test: RaceTest,
    mode: RaceMode,
    control: ExploreControl | undefined,
    stressCtl: Int32Array | undefined,
    size: number,
  ): Timeout {
    const n = test.actors.length;
    const after = `${test.timeoutMs} ms without progress`;
    if (mode === 'explore' && control) {
      const turn = RA.load(control.i32, ExploreWord.TURN);
      const snap = snapshotOf(control, n, 0);
      return new Timeout(
        `${after}: actor ${turn} holds the schedule and makes no Atomics call (an endless loop, or a blocking call the harness cannot see)${
          turn >= 0 ? `; ${describeOps(snap, n, 'all')}` : ''
        }`,
        Math.max(0, control.i32[ExploreWord.TRIAL]!),
      );
    }
    const done: number[] = [];
    for (let t = 0; t < n; t++) done.push(RA.load(stressCtl!, StressWord.TRIALS_DONE + t));
    const index = Math.min(...done);
    const stuck = done.map((d, t) => (d === index ? t : -1)).filter((t) => t >= 0);
    return new Timeout(
      `${after}: actor${stuck.length > 1 ? 's' : ''} ${stuck.join(', ')} did not return from trial ${index} of a batch of ${size}`,
      index,
    );
  }

  /** The outcome id of a completed trial: arbiter or linearizability check. */
  #judge(
    test: RaceTest,
    mode: RaceMode,
    state: unknown,
    results: ActorResult[],
    replies: (DoneMessage | 'killed')[],
    k: number,
    killed: number[],
    threadIds: number[],
    trial: number,
  ): { id: string; detail: string | undefined } {
    let detail: string | undefined;
    const errors = results
      .map((r, t) =>
        'e' in r
          ? `actor ${t} threw ${r.e.name}${r.e.code ? ` [${r.e.code}]` : ''}: ${r.e.message}`
          : '',
      )
      .filter((s) => s !== '');
    if (errors.length > 0) detail = errors.join('; ');
    if (test.type === 'linearizability' && test.model) {
      const history: HistoryOp[] = [];
      for (const r of replies) if (r !== 'killed') history.push(...(r.histories[k] ?? []));
      const actorIds = results
        .map((r) => ('e' in r ? `error:${r.e.code ?? r.e.name}` : undefined))
        .filter((x) => x !== undefined);
      const verdict = checkLinearizability(test.model, history);
      if (verdict === 'not linearizable') {
        const prefix = shortestFailingPrefix(test.model, history);
        detail = `shortest non-linearizable prefix of the history (cut at the first impossible return; ${prefix.length} of ${history.length} operations; [call, return] times):\n${formatHistory(prefix)}`;
      }
      return { id: [...actorIds, verdict].join(','), detail };
    }
    let arbiter: unknown;
    if (test.arbiter) {
      const ctx: ArbiterContext = {
        trial,
        mode,
        killed,
        threadIds,
        results: results.map((r) => ('v' in r ? r.v : undefined)),
      };
      try {
        arbiter = test.arbiter(state, ctx);
      } catch (error) {
        const e = describeError(error);
        return {
          id: `${outcomeId(results, undefined)}${results.length ? ',' : ''}error:arbiter`,
          detail: `the arbiter threw ${e.name}: ${e.message}`,
        };
      }
      if (arbiter instanceof InvariantViolation)
        detail = detail ? `${detail}; ${arbiter.message}` : arbiter.message;
    }
    return { id: outcomeId(results, arbiter), detail };
  }

  #record(
    rows: Map<string, Sampled>,
    report: TestReport,
    test: RaceTest,
    id: string,
    killed: boolean,
    sample: OutcomeSample,
  ): OutcomeRow {
    const key = `${killed ? 'K' : '-'}${id}`;
    let s = rows.get(key);
    if (s === undefined) {
      const g = grade(test, id, killed);
      s = {
        row: {
          id: killed && !id.includes('killed') ? `${id} (with a kill)` : id,
          count: 0,
          expect: g.expect,
          ...(g.desc !== undefined ? { desc: g.desc } : {}),
          listed: g.listed,
          sample,
        },
      };
      rows.set(key, s);
    }
    s.row.count++;
    if (s.row.expect === 'forbidden') report.forbidden++;
    else if (s.row.expect === 'interesting') report.interesting++;
    return s.row;
  }
}

function shellQuote(text: string): string {
  return /^[\w./:@%+,=~-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
