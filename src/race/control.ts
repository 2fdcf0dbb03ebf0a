/**
 * The race harness's control buffers: where every word lives, and the views over them. Plain data,
 * no threads. The runner (runner.ts, test-run.ts), the explore scheduler (scheduler.ts) and the
 * actor threads (actor-host.ts) all read their offsets from here; nothing else hard-codes one.
 *
 * Why here and not in src/shm/layout.ts: that module lays out atomvisor's shared-memory structures
 * (mutex, seqlock, channel, frame ring, slot table) — buffers that leave the library in handles,
 * carry LAYOUT_VERSION and are checked against it. A control buffer is the harness's private
 * bookkeeping: the runner creates one per test run and hands it only to its own actor threads,
 * loaded from the same build, so it has no handle, no version and no reader outside src/race, and
 * its shape follows the scheduler's algorithm rather than a data structure's. Keeping it here keeps
 * the shm layer free of harness concerns (race depends on shm, never the reverse) while the rule
 * still holds per buffer: one module knows the offsets.
 *
 * Explore mode (`ExploreControl`). One SharedArrayBuffer holds the whole scheduler: whose turn it
 * is, each actor's state, the PRNG, the virtual clock, and the decision stack (which is also the
 * trace and, for DFS, the exploration stack). Only the thread holding the token (TURN) touches the
 * scheduler state, and the token moves with an Atomics store/load pair (sequentially consistent,
 * so it synchronises-with): plain accesses to this buffer by successive holders are ordered.
 *
 * Stress mode (`StressWord`): the start-line counters, the linearizability clock and per-actor
 * progress counters.
 */

/** Actors a test may have (stress mode gives each one a word in two per-actor arrays). */
export const MAX_ACTORS = 64;

/**
 * Actors explore mode can schedule: a decision's choices are a 32-bit mask with one bit per actor
 * to run and one per blocked actor to wake spuriously (2 × 15 bits), and a choice is written as one
 * base-36 digit in a trace.
 */
export const MAX_EXPLORE_ACTORS = 15;

/** PCT change points kept per trial: `explore.pctDepth` is at most this (depth − 1 are used). */
export const MAX_CHANGE_POINTS = 16;

/** Words a spinning actor's watch list takes: a count, then up to WATCH_MAX [buffer id, byte]. */
const WATCH_MAX = 8;
const WATCH_WORDS = 1 + 2 * WATCH_MAX;
const ACTORS_AT = 96;
const ACTOR_WORDS = 16;
const WATCH_AT = ACTORS_AT + MAX_EXPLORE_ACTORS * ACTOR_WORDS;

/**
 * Header words of the explore control buffer (Int32 indices unless the name ends in _F64: those
 * index the Float64Array view of the same buffer; words 5, 20 and 47 are free). Then per actor
 * ACTOR_WORDS words (`ActorWord`) at `actorBase(actor)`, then per actor a watch list at
 * `watchBase(actor)`. test/race/control.test.ts checks that no two regions overlap.
 */
export const ExploreWord = {
  /** The actor holding the token: the only one that runs. -1 between trials. */
  TURN: 0,
  /** Actors at the current trial's start line; the last to arrive sets the trial up. */
  START_LINE: 1,
  /** Scheduling points this trial (against MAX_STEPS). */
  STEPS: 2,
  /** Decisions this trial: scheduling points where the strategy had a real choice. */
  DECISIONS: 3,
  /** The trial's `TrialStatus`. */
  TRIAL_STATUS: 4,
  /** `STRATEGY_CODES` of the run. */
  STRATEGY: 6,
  MAX_STEPS: 7,
  /** Modelled Atomics.wait calls so far this trial: orders waiters FIFO (`ActorWord.WAIT_SEQ`). */
  WAIT_SEQ: 8,
  /** Preemptions this trial (DFS bounds them by PREEMPTION_BOUND). */
  PREEMPTIONS: 9,
  PCT_DEPTH: 10,
  /** The most decisions a trial of this run has taken: PCT draws its change points below it. */
  PCT_HORIZON: 11,
  /** Spurious wake-ups: parts per million per decision with a blocked waiter. */
  SPURIOUS_PPM: 12,
  /** Delay fault: this actor (-1 none) is held back until decision DELAY_UNTIL. */
  DELAY_ACTOR: 13,
  DELAY_UNTIL: 14,
  /** Kill fault: this actor (-1 none) is terminated at its scheduling point on step KILL_STEP. */
  KILL_ACTOR: 15,
  KILL_STEP: 16,
  /** DFS: preemptions allowed per schedule. */
  PREEMPTION_BOUND: 17,
  /** Decisions replayed from the stack (DFS: `chosen`; replay: `forced`) before new choices. */
  PREFIX_LEN: 18,
  /** DFS: every schedule within the bound was explored (1); the rest of the batch is skipped. */
  EXHAUSTED: 19,
  /** The current trial's index in its batch (-1 before the run's first trial). */
  TRIAL: 21,
  /** Rounds in which every runnable actor spun and 1 ms of virtual time passed (livelock bound). */
  IDLE_ROUNDS: 22,
  /** The actor a kill fault terminated this trial, or -1. */
  KILLED_ACTOR: 23,
  /** The trial's PRNG state (4 words, prng.ts). */
  RNG: 24,
  /** PCT: the decisions at which the running actor's priority changes (16 words; -1 ends them). */
  CHANGE_POINTS: 28,
  /** Bumped at every step: the main thread's watchdog sees that the trial moves. */
  PROGRESS: 44,
  /** Linearizability tests: the logical clock stamping each operation's call and return. */
  LIN_CLOCK: 45,
  /** 0, or 1 + the decision at which a forced choice was not possible (replay / DFS diverged). */
  DIVERGED_AT: 46,
  /** Spin reads let through without a scheduling point this trial (bounded: livelock). */
  FAST_FORWARDED: 48,
  /** Consecutive steps the token holder has run (fairness bound). */
  RUN_LENGTH: 49,
  /** The virtual clock in ms (words 50, 51). */
  CLOCK_F64: 50 / 2,
  /** Actor t's modelled-wait deadline is at DEADLINES_F64 + t (words 52 .. 52 + 2 × 15). */
  DEADLINES_F64: 52 / 2,
  ACTORS: ACTORS_AT,
  ACTOR_WORDS,
  /** Per actor: the addresses a spinning actor watches (count, then up to WATCH_MAX × [buf, byte]). */
  WATCH: WATCH_AT,
  WATCH_WORDS,
  WATCH_MAX,
  /** The header's size; the decision arrays follow it (an even count keeps them 8-byte aligned). */
  HEADER_WORDS: WATCH_AT + MAX_EXPLORE_ACTORS * WATCH_WORDS + 1,
} as const;

/** Words of an actor's block in the explore control buffer (at `actorBase(actor)`; 10, 11 free). */
export const ActorWord = {
  /** The actor's `ActorStatus`. */
  STATUS: 0,
  /** Futex word: bumped when the token is handed to this actor. */
  WAKE: 1,
  /** 1 while the actor sleeps in Atomics.wait on WAKE (the handoff notifies only then). */
  SLEEPING: 2,
  /** A modelled Atomics.wait: the address waited on (buffer id, byte offset)... */
  WAIT_BUF: 3,
  WAIT_BYTE: 4,
  /** ...whether it has a timeout (deadline at `ExploreWord.DEADLINES_F64`)... */
  WAIT_TIMED: 5,
  /** ...its place in the FIFO of waiters... */
  WAIT_SEQ: 6,
  /** ...and how it ended (`WaitResult`). */
  WAIT_RESULT: 7,
  /** PCT priority: the highest runnable one runs. */
  PRIORITY: 8,
  /**
   * 1 while the actor is switched away in a spin: it is not scheduled until someone writes to a
   * word on its watch list (or nothing else can run).
   */
  WATCHING: 9,
  /** Diagnostics: the actor's last operation (`OpCode`) and its address. */
  OP: 12,
  OP_BUF: 13,
  OP_BYTE: 14,
  /** Status when the trial was cut short (deadlock, livelock), or -1. */
  FINAL: 15,
} as const;

/** An actor's status in the explore control buffer (`ActorWord.STATUS`). */
export const ActorStatus = {
  /** Not started yet (runnable). */
  START: 0,
  READY: 1,
  /** In a modelled Atomics.wait. */
  BLOCKED: 2,
  DONE: 3,
  KILLED: 4,
  /** The trial was cut short: the actor throws RaceAbort at its next scheduling point. */
  UNWIND: 5,
} as const;

/** A trial's status (`ExploreWord.TRIAL_STATUS`). */
export const TrialStatus = {
  RUNNING: 0,
  COMPLETE: 1,
  DEADLOCK: 2,
  LIVELOCK: 3,
  DIVERGED: 4,
} as const;

/** How a modelled Atomics.wait ended (`ActorWord.WAIT_RESULT`). */
export const WaitResult = {
  NONE: 0,
  OK: 1,
  TIMED_OUT: 2,
  /** The trial was cut short while it waited. */
  ABORT: 3,
} as const;

export const STRATEGY_CODES = { random: 0, pct: 1, dfs: 2, replay: 3 } as const;

/** `current[d]` of a decision whose running actor was spinning: the actor | SPINNING_FLAG. */
export const SPINNING_FLAG = 0x100;

/**
 * Buffer ids at and above this one name SharedArrayBuffers not reachable from the trial's state:
 * private to one actor (`PRIVATE_BUFFER_IDS + actor × 0x10000 + n`).
 */
export const PRIVATE_BUFFER_IDS = 0x100000;

/** Operation names, indexed by op code (for diagnostics: what each actor was doing). */
export const OP_NAMES = [
  'start',
  'load',
  'store',
  'add',
  'sub',
  'and',
  'or',
  'xor',
  'exchange',
  'compareExchange',
  'wait',
  'notify',
] as const;
export type OpName = (typeof OP_NAMES)[number];
/** Op codes by name (`ActorWord.OP`). */
export const OpCode: { readonly [K in OpName]: number } = Object.fromEntries(
  OP_NAMES.map((name, i) => [name, i]),
) as { [K in OpName]: number };

/** Index of actor `actor`'s block in the explore control buffer's Int32 view. */
export function actorBase(actor: number): number {
  return ACTORS_AT + actor * ACTOR_WORDS;
}

/** Index of actor `actor`'s watch list in the explore control buffer's Int32 view. */
export function watchBase(actor: number): number {
  return WATCH_AT + actor * WATCH_WORDS;
}

/** Views over an explore control buffer for `maxDecisions` decisions. */
export class ExploreControl {
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** Decision d: the choice made. */
  readonly chosen: Uint8Array;
  /** Decision d: the forced choice (replay). */
  readonly forced: Uint8Array;
  /** Decision d: bit mask of the possible choices. */
  readonly enabled: Int32Array;
  /** Decision d: choices already explored (DFS). */
  readonly tried: Int32Array;
  /** Decision d: the actor that was running (-1 none) | SPINNING_FLAG when it was spinning. */
  readonly current: Int32Array;
  /** Decision d: preemptions spent before it. */
  readonly preBefore: Int32Array;
  readonly maxDecisions: number;

  static bytes(maxDecisions: number): number {
    const header = ExploreWord.HEADER_WORDS * 4;
    const bytes = Math.ceil(maxDecisions / 8) * 8;
    return header + 2 * bytes + 4 * 4 * maxDecisions;
  }

  static create(maxDecisions: number): ExploreControl {
    const c = new ExploreControl(
      new SharedArrayBuffer(ExploreControl.bytes(maxDecisions)),
      maxDecisions,
    );
    c.i32[ExploreWord.TURN] = -1;
    return c;
  }

  constructor(buffer: SharedArrayBuffer, maxDecisions: number) {
    this.buffer = buffer;
    this.maxDecisions = maxDecisions;
    let at = ExploreWord.HEADER_WORDS * 4;
    this.i32 = new Int32Array(buffer, 0, at / 4);
    this.f64 = new Float64Array(buffer, 0, at / 8);
    const bytes = Math.ceil(maxDecisions / 8) * 8;
    this.chosen = new Uint8Array(buffer, at, maxDecisions);
    at += bytes;
    this.forced = new Uint8Array(buffer, at, maxDecisions);
    at += bytes;
    this.enabled = new Int32Array(buffer, at, maxDecisions);
    at += 4 * maxDecisions;
    this.tried = new Int32Array(buffer, at, maxDecisions);
    at += 4 * maxDecisions;
    this.current = new Int32Array(buffer, at, maxDecisions);
    at += 4 * maxDecisions;
    this.preBefore = new Int32Array(buffer, at, maxDecisions);
  }
}

/** A trial as the explore control buffer holds it once it has ended (`snapshotOf`). */
export interface TrialSnapshot {
  /** Trial number within the batch. */
  index: number;
  status: number;
  steps: number;
  ffSteps: number;
  decisions: number;
  choices: Uint8Array;
  killed: number;
  /** Per actor: last op code, its buffer id and byte offset, final status. */
  ops: number[];
}

/** Read a finished trial out of the control buffer. */
export function snapshotOf(control: ExploreControl, n: number, index: number): TrialSnapshot {
  const i = control.i32;
  const decisions = Math.min(i[ExploreWord.DECISIONS]!, control.maxDecisions);
  const ops: number[] = [];
  for (let t = 0; t < n; t++) {
    const base = actorBase(t);
    const final = i[base + ActorWord.FINAL]!;
    ops.push(
      i[base + ActorWord.OP]!,
      i[base + ActorWord.OP_BUF]!,
      i[base + ActorWord.OP_BYTE]!,
      final >= 0 ? final : i[base + ActorWord.STATUS]!,
    );
  }
  return {
    index,
    status: i[ExploreWord.TRIAL_STATUS]!,
    steps: i[ExploreWord.STEPS]!,
    ffSteps: i[ExploreWord.FAST_FORWARDED]!,
    decisions,
    choices: control.chosen.slice(0, decisions),
    killed: i[ExploreWord.KILLED_ACTOR]!,
    ops,
  };
}

const STRESS_PER_ACTOR_AT = 16;

/**
 * Words of the stress control buffer: the two start-line counters (ARRIVED: threads at the line,
 * possibly parked; GO: threads awake and spinning), the linearizability clock, then two per-actor
 * arrays of MAX_ACTORS words.
 */
export const StressWord = {
  ARRIVED: 0,
  LIN_CLOCK: 1,
  GO: 2,
  /** Per actor: trials finished in this batch (the watchdog reads these). */
  TRIALS_DONE: STRESS_PER_ACTOR_AT,
  /** Per actor: the trial it has reached in this batch, + 1 (the per-trial checkpoint). */
  REACHED: STRESS_PER_ACTOR_AT + MAX_ACTORS,
  WORDS: STRESS_PER_ACTOR_AT + 2 * MAX_ACTORS,
} as const;
