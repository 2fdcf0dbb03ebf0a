/**
 * The control buffers the race harness shares with its actor threads. Plain data, no threads:
 * the scheduler (scheduler.ts) and the runner (runner.ts) both read these layouts.
 *
 * Explore mode (`ExploreControl`). One SharedArrayBuffer holds the whole scheduler: whose turn it
 * is, each actor's state, the PRNG, the virtual clock, and the decision stack (which is also the
 * trace and, for DFS, the exploration stack). Only the thread holding the token (TURN) touches the
 * scheduler state, and the token moves with an Atomics store/load pair (sequentially consistent,
 * so it synchronises-with): plain accesses to this buffer by successive holders are ordered.
 *
 * Stress mode (`StressControl`): a start-line barrier counter and per-actor progress counters.
 */

/** Header words of the explore control buffer. */
export const X = {
  TURN: 0,
  ARRIVED: 1,
  STEP: 2,
  DECISIONS: 3,
  STATUS: 4,
  N: 5,
  STRATEGY: 6,
  MAX_STEPS: 7,
  WAIT_SEQ: 8,
  PREEMPTIONS: 9,
  PCT_DEPTH: 10,
  PCT_K: 11,
  SPURIOUS_PPM: 12,
  DELAY_ACTOR: 13,
  DELAY_UNTIL: 14,
  KILL_ACTOR: 15,
  KILL_STEP: 16,
  BOUND: 17,
  PREFIX_LEN: 18,
  EXHAUSTED: 19,
  TRIAL_SEED: 20,
  TRIAL: 21,
  IDLE_ROUNDS: 22,
  KILLED: 23,
  RNG: 24, // 4 words
  CHANGE_POINTS: 28, // 16 words
  PROGRESS: 44,
  LIN_CLOCK: 45,
  DIVERGED: 46,
  MAX_DECISIONS: 47,
  FF_STEPS: 48,
  /** Consecutive steps the token holder has run (fairness bound). */
  RUN_LEN: 49,
  CLOCK_F64: 25, // Float64 index (= words 50, 51)
  DEADLINE_F64: 26, // Float64 index of actor 0's deadline (words 52 ..)
  ACTORS: 96,
  STRIDE: 16,
  MAX_ACTORS: 15,
  /** Per actor: the addresses a spinning actor watches (count, then up to 8 × [buf, byte]). */
  WATCH: 96 + 15 * 16,
  WATCH_STRIDE: 17,
  WATCH_MAX: 8,
  HEADER_WORDS: 96 + 15 * 16 + 15 * 17 + 1,
} as const;

/** Per-actor words (at ACTORS + actor * STRIDE). */
export const A = {
  STATUS: 0,
  WAKE: 1,
  SLEEPING: 2,
  WAIT_BUF: 3,
  WAIT_BYTE: 4,
  WAIT_TIMED: 5,
  WAIT_SEQ: 6,
  WAIT_RESULT: 7,
  PRIORITY: 8,
  SPIN: 9,
  OP: 12,
  OP_BUF: 13,
  OP_BYTE: 14,
  /** Status when the trial was cut short (deadlock, livelock), or -1. */
  FINAL: 15,
} as const;

/** Actor status. */
export const S = {
  START: 0,
  READY: 1,
  BLOCKED: 2,
  DONE: 3,
  KILLED: 4,
  UNWIND: 5,
} as const;

/** Trial status. */
export const T = {
  RUNNING: 0,
  COMPLETE: 1,
  DEADLOCK: 2,
  LIVELOCK: 3,
  DIVERGED: 4,
  SKIPPED: 5,
} as const;

export const TRIAL_STATUS_NAMES = [
  'running',
  'complete',
  'deadlock',
  'livelock',
  'diverged',
  'skipped',
] as const;

/** Wait results. */
export const R = {
  NONE: 0,
  OK: 1,
  TIMED_OUT: 2,
  ABORT: 3,
  DIE: 4,
} as const;

export const STRATEGY_CODES = { random: 0, pct: 1, dfs: 2, replay: 3 } as const;

/** Operation codes (for diagnostics: what each actor was doing). */
export const OPS = [
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
export type OpName = (typeof OPS)[number];
export const OP: { readonly [K in OpName]: number } = Object.fromEntries(
  OPS.map((name, i) => [name, i]),
) as { [K in OpName]: number };

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
  /** Decision d: the actor that was running (-1 none) | 0x100 when it was spinning. */
  readonly current: Int32Array;
  /** Decision d: preemptions spent before it. */
  readonly preBefore: Int32Array;
  readonly maxDecisions: number;

  static bytes(maxDecisions: number): number {
    const header = X.HEADER_WORDS * 4;
    const bytes = Math.ceil(maxDecisions / 8) * 8;
    return header + 2 * bytes + 4 * 4 * maxDecisions;
  }

  static create(maxDecisions: number): ExploreControl {
    const c = new ExploreControl(
      new SharedArrayBuffer(ExploreControl.bytes(maxDecisions)),
      maxDecisions,
    );
    c.i32[X.MAX_DECISIONS] = maxDecisions;
    c.i32[X.TURN] = -1;
    return c;
  }

  constructor(buffer: SharedArrayBuffer, maxDecisions: number) {
    this.buffer = buffer;
    this.maxDecisions = maxDecisions;
    let at = X.HEADER_WORDS * 4;
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

  /** Word index of an actor's field. */
  a(actor: number, field: number): number {
    return X.ACTORS + actor * X.STRIDE + field;
  }
}

/**
 * Stress mode control: the two start-line counters (ARRIVE: threads at the line, possibly parked;
 * GO: threads awake and spinning), the linearizability clock, then per-actor progress counters.
 */
export const SX = {
  BARRIER: 0,
  LIN_CLOCK: 1,
  GO: 2,
  /** Per actor: trials finished in this batch (the watchdog reads these). */
  PROGRESS: 16,
  /** Per actor (at PROGRESS + MAX_ACTORS): the trial it has reached, + 1. */
  AT: 16 + 64,
  words(_actors: number): number {
    return 16 + 2 * 64;
  },
} as const;
