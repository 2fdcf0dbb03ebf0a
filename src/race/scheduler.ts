/**
 * Explore mode's scheduler, run inside every actor thread (no controller thread: token passing).
 *
 * Exactly one actor holds the token (control word TURN) and runs; the others are parked on their
 * own WAKE words. Every Atomics call an actor makes goes through the harness's Atomics wrapper
 * (atomics-shim.ts) to `point()` first: a scheduling point. The token holder runs the decision
 * (decide.ts: the strategy, over the shared control state of control.ts) to choose who performs
 * the next operation, and if it chose another actor hands it the token (Atomics.store + notify
 * with the runtime's own Atomics) and parks until the token comes back. Since only one actor runs at a
 * time and every choice comes from the shared PRNG or the forced prefix, a trial is a
 * deterministic function of its seed and its choices: it can be replayed exactly.
 *
 * Modelled, not real:
 * - Atomics.wait blocks the actor in the model (BLOCKED on buffer id + byte offset) and the token
 *   moves on; only a modelled notify on the same address, an injected spurious wake-up (a
 *   scheduling choice) or its timeout wakes it. Timeouts fire only when nothing else can run,
 *   earliest deadline first, and move the virtual clock to the deadline. Nobody runnable and
 *   nobody with a timeout: 'deadlock'.
 * - Time: performance.now() and Date.now() read a virtual clock that advances 1 µs per step (and
 *   1 ms per idle round, see below), so deadline loops are deterministic too.
 * - Spinning: an actor that reads the same value at the same address SPIN_REPEAT times without
 *   writing is spinning. At its next scheduling point the strategy chooses between letting it
 *   run on (its repeated reads are then fast-forwarded without scheduling points, up to FF_CAP, so
 *   a bounded spin reaches its park path) and switching away, after which it is not scheduled
 *   again until someone writes to a word it has been reading (or nothing else can run: an idle
 *   round, 1 ms of virtual time). This keeps spin loops from eating the step budget.
 * - Fairness: an actor that has run 1000 steps in a row while others could run must yield
 *   (and PCT demotes it below everyone), so retry loops that write — which do not count as
 *   spinning — cannot starve the thread they wait for.
 *
 * Plain (non-Atomics) reads and writes are not scheduling points: they run inside the step of the
 * Atomics call before them. Races between plain accesses are invisible to explore mode.
 */
import {
  ActorStatus,
  ActorWord,
  actorBase,
  type ExploreControl,
  ExploreWord,
  OpCode,
  PRIVATE_BUFFER_IDS,
  STRATEGY_CODES,
  snapshotOf,
  type TrialSnapshot,
  TrialStatus,
  WaitResult,
  watchBase,
} from './control.ts';
import { backtrack, DEADLOCK, DIVERGED, decide, initPct, LIVELOCK, NONE } from './decide.ts';
import { seedRng } from './prng.ts';
import { RealAtomics as RA, realPause } from './real-atomics.ts';
import { sharedBufferIds } from './state.ts';

/** Thrown inside an actor whose trial was cut short (deadlock, livelock, replay divergence). */
export class RaceAbort extends Error {
  constructor() {
    super('the race harness aborted this trial');
    this.name = 'RaceAbort';
  }
}

export interface BatchPlan {
  seeds: ArrayLike<number>;
  /** Per trial: [actor, until] or [-1, 0]. */
  delays: ArrayLike<number>;
  /** Kill in the batch's first trial (batches with a kill have one trial). */
  kill: { actor: number; step: number } | null;
}

const { pct: PCT, dfs: DFS } = STRATEGY_CODES;

const SPIN_TOKEN = 64;
const SPIN_REPEAT = 3;
/** Reads fast-forwarded in one go before the spinner is made to yield. */
const FF_CAP = 1024;
/** Fast-forwarded reads per trial, as a multiple of maxSteps, before it counts as a livelock. */
const FF_BUDGET = 20;
const STEP_MS = 0.001;
const CLOCK_START = 1000;

const coercers = new Map<unknown, { [i: number]: unknown }>();
/** `value` converted as storing it into `ta` would (for comparing with a loaded element). */
export function coerce(ta: ArrayBufferView, value: unknown): unknown {
  const ctor = ta.constructor as new (n: number) => { [i: number]: unknown };
  let tmp = coercers.get(ctor);
  if (tmp === undefined) {
    tmp = new ctor(1);
    coercers.set(ctor, tmp);
  }
  tmp[0] = value;
  return tmp[0];
}

interface ReadRecord {
  v: unknown;
  c: number;
}

type Int = Int32Array;

export class ExploreScheduler {
  readonly control: ExploreControl;
  readonly me: number;
  readonly n: number;
  /** True while this actor is inside a trial: the Atomics wrapper schedules only then. */
  active = false;
  readonly snapshots: TrialSnapshot[] = [];
  readonly #i: Int;
  readonly #f: Float64Array;
  #ids = new Map<SharedArrayBuffer, number>();
  #privateIds = 0;
  #plan: BatchPlan | undefined;
  readonly #reads = new Map<number, ReadRecord>();
  /** This actor looks like it spins (it re-read a value unchanged SPIN_REPEAT times). */
  #spinning = false;
  #ff = false;
  #ffCount = 0;
  #forceYield = false;

  constructor(control: ExploreControl, me: number, n: number) {
    this.control = control;
    this.me = me;
    this.n = n;
    this.#i = control.i32;
    this.#f = control.f64;
  }

  /** Virtual milliseconds (what performance.now() returns to actors). */
  get clock(): number {
    return this.#f[ExploreWord.CLOCK_F64]!;
  }

  // ---------------------------------------------------------------------------------------------
  // Trials

  startBatch(plan: BatchPlan): void {
    this.#plan = plan;
    this.snapshots.length = 0;
  }

  /**
   * Wait at the start line of trial `k` of the batch. The last actor to arrive sets the trial up
   * (and records the previous trial's snapshot) and hands out the first token.
   */
  enterTrial(k: number, state: unknown): 'run' | 'skip' | 'aborted' {
    const i = this.#i;
    this.#ids = sharedBufferIds(state);
    this.#privateIds = 0;
    this.#resetSpin();
    if (RA.load(i, ExploreWord.EXHAUSTED) !== 0) return 'skip';
    const arrived = RA.add(i, ExploreWord.START_LINE, 1) + 1;
    if (arrived === this.n) {
      RA.store(i, ExploreWord.START_LINE, 0);
      if (k > 0) this.snapshots.push(this.snapshot(k - 1));
      this.#initTrial(k);
      if (i[ExploreWord.EXHAUSTED] !== 0) {
        for (let t = 0; t < this.n; t++) if (t !== this.me) this.#wake(t);
        return 'skip';
      }
      let next = this.#decide();
      if (next < 0) {
        this.#abortTrial(next);
        next = this.#decide();
      }
      if (next !== this.me) {
        this.#handoff(next);
        this.#park(true);
      }
    } else {
      this.#park(true);
      if (RA.load(i, ExploreWord.EXHAUSTED) !== 0 && RA.load(i, ExploreWord.TURN) !== this.me)
        return 'skip';
    }
    if (i[actorBase(this.me) + ActorWord.STATUS] === ActorStatus.UNWIND) return 'aborted';
    i[actorBase(this.me) + ActorWord.STATUS] = ActorStatus.READY;
    this.active = true;
    return 'run';
  }

  /** The actor returned (or threw, or was aborted): pass the token on, or close the trial. */
  exitTrial(): void {
    this.active = false;
    this.#i[actorBase(this.me) + ActorWord.STATUS] = ActorStatus.DONE;
    this.#resetSpin();
    this.#passOn();
  }

  /** This batch's last trial as the control buffer holds it (main reads it the same way). */
  snapshot(index: number): TrialSnapshot {
    return snapshotOf(this.control, this.n, index);
  }

  #initTrial(k: number): void {
    const i = this.#i;
    const plan = this.#plan!;
    const previous =
      i[ExploreWord.DIVERGED_AT]! > 0 ? i[ExploreWord.DIVERGED_AT]! - 1 : i[ExploreWord.DECISIONS]!;
    if (i[ExploreWord.DECISIONS]! > i[ExploreWord.PCT_HORIZON]!)
      i[ExploreWord.PCT_HORIZON] = i[ExploreWord.DECISIONS]!;
    const strategy = i[ExploreWord.STRATEGY]!;
    if (strategy === DFS) {
      if (i[ExploreWord.TRIAL]! >= 0) backtrack(this.control, this.n, previous);
      else i[ExploreWord.PREFIX_LEN] = 0;
      if (i[ExploreWord.EXHAUSTED] !== 0) return;
    }
    i[ExploreWord.TRIAL] = k;
    i[ExploreWord.STEPS] = 0;
    i[ExploreWord.DECISIONS] = 0;
    i[ExploreWord.TRIAL_STATUS] = TrialStatus.RUNNING;
    i[ExploreWord.PREEMPTIONS] = 0;
    i[ExploreWord.IDLE_ROUNDS] = 0;
    i[ExploreWord.KILLED_ACTOR] = -1;
    i[ExploreWord.WAIT_SEQ] = 0;
    i[ExploreWord.DIVERGED_AT] = 0;
    i[ExploreWord.FAST_FORWARDED] = 0;
    i[ExploreWord.RUN_LENGTH] = 0;
    this.#f[ExploreWord.CLOCK_F64] = CLOCK_START;
    const seed = (plan.seeds[k] ?? 0) >>> 0;
    seedRng(i, ExploreWord.RNG, seed);
    const kill = k === 0 ? plan.kill : null;
    i[ExploreWord.KILL_ACTOR] = kill === null ? -1 : kill.actor;
    i[ExploreWord.KILL_STEP] = kill === null ? 0 : kill.step;
    i[ExploreWord.DELAY_ACTOR] = plan.delays[2 * k] ?? -1;
    i[ExploreWord.DELAY_UNTIL] = plan.delays[2 * k + 1] ?? 0;
    for (let t = 0; t < this.n; t++) {
      const base = actorBase(t);
      i[base + ActorWord.STATUS] = ActorStatus.START;
      i[base + ActorWord.WAIT_RESULT] = WaitResult.NONE;
      i[base + ActorWord.WATCHING] = 0;
      i[base + ActorWord.OP] = OpCode.start;
      i[base + ActorWord.OP_BUF] = -1;
      i[base + ActorWord.OP_BYTE] = -1;
      i[base + ActorWord.FINAL] = -1;
    }
    if (strategy === PCT) initPct(i, this.n);
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling points (called by the Atomics wrapper)

  /** Address of `ta[index]`: [buffer id, byte offset]. */
  bufferId(buffer: SharedArrayBuffer): number {
    let id = this.#ids.get(buffer);
    if (id === undefined) {
      // Not reachable from the state: private to this actor (or smuggled in another way).
      id = PRIVATE_BUFFER_IDS + this.me * 0x10000 + this.#privateIds++;
      this.#ids.set(buffer, id);
    }
    return id;
  }

  /** A scheduling point before operation `op` on (buf, byte). May park; may throw RaceAbort. */
  point(op: number, buf: number, byte: number): void {
    const i = this.#i;
    const me = this.me;
    const base = actorBase(me);
    if (
      i[ExploreWord.TRIAL_STATUS] !== TrialStatus.RUNNING ||
      i[base + ActorWord.STATUS] === ActorStatus.UNWIND
    )
      throw new RaceAbort();
    this.#tick(false);
    i[base + ActorWord.OP] = op;
    i[base + ActorWord.OP_BUF] = buf;
    i[base + ActorWord.OP_BYTE] = byte;
    if (i[ExploreWord.KILL_ACTOR] === me && i[ExploreWord.STEPS]! >= i[ExploreWord.KILL_STEP]!)
      this.#die();
    if (this.#forceYield) {
      this.#forceYield = false;
      this.#watch();
    }
    const next = this.#decide();
    if (next < 0) {
      this.#abortTrial(next);
      throw new RaceAbort();
    }
    if (next === me) {
      i[base + ActorWord.WATCHING] = 0;
      i[ExploreWord.RUN_LENGTH]!++;
      if (this.#spinning && !this.#ff) {
        this.#ff = true;
        this.#ffCount = 0;
      }
      return;
    }
    if (this.#spinning) this.#watch();
    this.#ff = false;
    this.#handoff(next);
    this.#park(false);
    this.#afterWake();
  }

  /**
   * Fast-forward: a spinning actor that was let run on re-reads a value it has already seen,
   * with nobody else running: no scheduling point. Returns true when the read may go ahead.
   */
  skipRead(buf: number, byte: number, current: unknown): boolean {
    if (!this.#ff) return false;
    const record = this.#reads.get(buf * 2 ** 32 + byte);
    if (record === undefined || record.v !== current) return false;
    if (++this.#ffCount > FF_CAP) {
      this.#ff = false;
      this.#forceYield = true;
      return false;
    }
    if (this.#i[ExploreWord.TRIAL_STATUS] !== TrialStatus.RUNNING) throw new RaceAbort();
    this.#tick(true);
    record.c++;
    return true;
  }

  noteRead(buf: number, byte: number, value: unknown): void {
    const key = buf * 2 ** 32 + byte;
    const record = this.#reads.get(key);
    if (record !== undefined && record.v === value) {
      if (++record.c >= SPIN_REPEAT && this.#reads.size <= ExploreWord.WATCH_MAX)
        this.#spinning = true;
    } else if (record !== undefined) {
      record.v = value;
      record.c = 1;
    } else {
      this.#reads.set(key, { v: value, c: 1 });
    }
  }

  /** A write to (buf, byte): ends this actor's spin, and re-enables actors watching that word. */
  noteWrite(buf: number, byte: number): void {
    this.#resetSpin();
    const i = this.#i;
    const block = Math.floor(byte / 8);
    for (let t = 0; t < this.n; t++) {
      if (i[actorBase(t) + ActorWord.WATCHING] === 0) continue;
      const w = watchBase(t);
      const count = i[w]!;
      for (let j = 0; j < count; j++) {
        if (i[w + 1 + 2 * j] === buf && Math.floor(i[w + 2 + 2 * j]! / 8) === block) {
          i[actorBase(t) + ActorWord.WATCHING] = 0;
          break;
        }
      }
    }
  }

  /**
   * Stop scheduling this spinning actor until someone writes to a word it has been reading (or
   * nothing else can run): publish the words it watches.
   */
  #watch(): void {
    const i = this.#i;
    const w = watchBase(this.me);
    let count = 0;
    for (const key of this.#reads.keys()) {
      if (count === ExploreWord.WATCH_MAX) break;
      i[w + 1 + 2 * count] = Math.floor(key / 2 ** 32);
      i[w + 2 + 2 * count] = key % 2 ** 32;
      count++;
    }
    i[w] = count;
    i[actorBase(this.me) + ActorWord.WATCHING] = count > 0 ? 1 : 0;
  }

  /** Modelled Atomics.wait(ta, index, value, timeout). */
  wait(
    ta: Int32Array | BigInt64Array,
    index: number,
    value: unknown,
    timeout: unknown,
  ): 'ok' | 'not-equal' | 'timed-out' {
    const buf = this.bufferId(ta.buffer as SharedArrayBuffer);
    const byte = ta.byteOffset + index * ta.BYTES_PER_ELEMENT;
    this.point(OpCode.wait, buf, byte);
    const current = RA.load(ta as Int32Array, index);
    if (current !== coerce(ta, value)) {
      this.noteRead(buf, byte, current);
      return 'not-equal';
    }
    let ms = timeout === undefined ? Number.POSITIVE_INFINITY : Number(timeout);
    if (Number.isNaN(ms)) ms = Number.POSITIVE_INFINITY;
    if (ms <= 0) return 'timed-out';
    const i = this.#i;
    const me = this.me;
    const base = actorBase(me);
    i[base + ActorWord.STATUS] = ActorStatus.BLOCKED;
    i[base + ActorWord.WAIT_BUF] = buf;
    i[base + ActorWord.WAIT_BYTE] = byte;
    i[base + ActorWord.WAIT_TIMED] = Number.isFinite(ms) ? 1 : 0;
    i[base + ActorWord.WAIT_SEQ] = ++i[ExploreWord.WAIT_SEQ]!;
    i[base + ActorWord.WAIT_RESULT] = WaitResult.NONE;
    i[base + ActorWord.WATCHING] = 0;
    this.#f[ExploreWord.DEADLINES_F64 + me] = this.#f[ExploreWord.CLOCK_F64]! + ms;
    this.#resetSpin();
    const next = this.#decide();
    if (next < 0) {
      this.#abortTrial(next);
      throw new RaceAbort();
    }
    if (next !== me) {
      this.#handoff(next);
      this.#park(false);
    }
    this.#afterWake();
    return i[base + ActorWord.WAIT_RESULT] === WaitResult.OK ? 'ok' : 'timed-out';
  }

  /** Modelled Atomics.notify(ta, index, count): wakes modelled waiters in FIFO order. */
  notify(ta: Int32Array | BigInt64Array, index: number, count: unknown): number {
    const buf = this.bufferId(ta.buffer as SharedArrayBuffer);
    const byte = ta.byteOffset + index * ta.BYTES_PER_ELEMENT;
    this.point(OpCode.notify, buf, byte);
    let limit = count === undefined ? Number.POSITIVE_INFINITY : Math.trunc(Number(count));
    if (Number.isNaN(limit) || limit < 0) limit = 0;
    const i = this.#i;
    let woken = 0;
    while (woken < limit) {
      let best = -1;
      let bestSeq = Number.POSITIVE_INFINITY;
      for (let t = 0; t < this.n; t++) {
        const base = actorBase(t);
        if (
          i[base + ActorWord.STATUS] === ActorStatus.BLOCKED &&
          i[base + ActorWord.WAIT_BUF] === buf &&
          i[base + ActorWord.WAIT_BYTE] === byte &&
          i[base + ActorWord.WAIT_SEQ]! < bestSeq
        ) {
          best = t;
          bestSeq = i[base + ActorWord.WAIT_SEQ]!;
        }
      }
      if (best < 0) break;
      const base = actorBase(best);
      i[base + ActorWord.STATUS] = ActorStatus.READY;
      i[base + ActorWord.WAIT_RESULT] = WaitResult.OK;
      woken++;
    }
    return woken;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #tick(fastForward: boolean): void {
    const i = this.#i;
    RA.add(i, ExploreWord.PROGRESS, 1);
    this.#f[ExploreWord.CLOCK_F64] = this.#f[ExploreWord.CLOCK_F64]! + STEP_MS;
    const over = fastForward
      ? ++i[ExploreWord.FAST_FORWARDED]! > FF_BUDGET * i[ExploreWord.MAX_STEPS]!
      : ++i[ExploreWord.STEPS]! > i[ExploreWord.MAX_STEPS]!;
    if (over) {
      this.#abortTrial(LIVELOCK);
      throw new RaceAbort();
    }
  }

  #resetSpin(): void {
    this.#reads.clear();
    this.#spinning = false;
    this.#ff = false;
    this.#forceYield = false;
  }

  /** Fault injection: this actor's thread is terminated here, mid-operation. */
  #die(): never {
    const i = this.#i;
    i[actorBase(this.me) + ActorWord.STATUS] = ActorStatus.KILLED;
    i[ExploreWord.KILLED_ACTOR] = this.me;
    this.active = false;
    this.#passOn();
    process.exit(0);
  }

  #passOn(): void {
    let next = this.#decide();
    if (next < NONE) {
      this.#abortTrial(next);
      next = this.#decide();
    }
    if (next >= 0) {
      this.#handoff(next);
      return;
    }
    const i = this.#i;
    if (i[ExploreWord.TRIAL_STATUS] === TrialStatus.RUNNING)
      i[ExploreWord.TRIAL_STATUS] = TrialStatus.COMPLETE;
    RA.store(i, ExploreWord.TURN, -1);
  }

  #abortTrial(code: number): void {
    const i = this.#i;
    if (i[ExploreWord.TRIAL_STATUS] === TrialStatus.RUNNING) {
      i[ExploreWord.TRIAL_STATUS] =
        code === DEADLOCK
          ? TrialStatus.DEADLOCK
          : code === DIVERGED
            ? TrialStatus.DIVERGED
            : TrialStatus.LIVELOCK;
    }
    for (let t = 0; t < this.n; t++) {
      const base = actorBase(t);
      const st = i[base + ActorWord.STATUS]!;
      if (i[base + ActorWord.FINAL] === -1) i[base + ActorWord.FINAL] = st;
      if (st === ActorStatus.START || st === ActorStatus.READY || st === ActorStatus.BLOCKED) {
        i[base + ActorWord.STATUS] = ActorStatus.UNWIND;
        i[base + ActorWord.WAIT_RESULT] = WaitResult.ABORT;
      }
    }
  }

  #afterWake(): void {
    const i = this.#i;
    if (i[actorBase(this.me) + ActorWord.STATUS] === ActorStatus.UNWIND) throw new RaceAbort();
  }

  #handoff(next: number): void {
    const i = this.#i;
    const base = actorBase(next);
    i[ExploreWord.RUN_LENGTH] = 0;
    RA.store(i, ExploreWord.TURN, next);
    RA.add(i, base + ActorWord.WAKE, 1);
    if (RA.load(i, base + ActorWord.SLEEPING) !== 0) RA.notify(i, base + ActorWord.WAKE, 1);
  }

  #wake(t: number): void {
    const i = this.#i;
    const base = actorBase(t);
    RA.add(i, base + ActorWord.WAKE, 1);
    RA.notify(i, base + ActorWord.WAKE, 1);
  }

  /** Park until the token is ours (or, at a start line, until the exploration is exhausted). */
  #park(orExhausted: boolean): void {
    const i = this.#i;
    const me = this.me;
    for (let s = 0; s < SPIN_TOKEN; s++) {
      if (RA.load(i, ExploreWord.TURN) === me) return;
      realPause();
    }
    const base = actorBase(me);
    RA.store(i, base + ActorWord.SLEEPING, 1);
    for (;;) {
      const w = RA.load(i, base + ActorWord.WAKE);
      if (RA.load(i, ExploreWord.TURN) === me) break;
      if (orExhausted && RA.load(i, ExploreWord.EXHAUSTED) !== 0) break;
      RA.wait(i, base + ActorWord.WAKE, w);
    }
    RA.store(i, base + ActorWord.SLEEPING, 0);
  }

  /** The next actor to run, or a code below 0 (decide.ts); `#spinning` tells it this one spins. */
  #decide(): number {
    return decide(this.control, this.n, this.me, this.#spinning);
  }
}
