/**
 * The explore scheduler's decision at a scheduling point — who performs the next operation —
 * computed from the control buffer alone by the actor that holds the token (scheduler.ts calls it
 * there, so only one thread runs it at a time). A decision applies what it implies: a timeout that
 * fires (nothing else can run), a spurious wake-up it chose, virtual time passing while every
 * runnable actor spins, an actor that ran too long made to yield. Every real choice is recorded on
 * the decision stack (ExploreControl.chosen and friends), which is at once the trace, the replay
 * input and DFS's exploration stack.
 *
 * The strategies: random (uniform), PCT (random distinct priorities and depth − 1 change points;
 * `initPct` draws them per trial), DFS (the running actor first, then `backtrack` between trials
 * moves to the next schedule within the preemption bound), replay (the forced prefix).
 */
import {
  ActorStatus,
  ActorWord,
  actorBase,
  type ExploreControl,
  ExploreWord,
  MAX_CHANGE_POINTS,
  SPINNING_FLAG,
  STRATEGY_CODES,
  WaitResult,
} from './control.ts';
import { nextFloat, nextInt } from './prng.ts';

/** `decide` found nothing left to run: the trial is over. */
export const NONE = -1;
/** Every live actor waits, none has a timeout: the trial is a deadlock. */
export const DEADLOCK = -2;
/** No end in sight (idle rounds, decision stack full): the trial is a livelock. */
export const LIVELOCK = -3;
/** A forced choice (replay, DFS prefix) was not possible. */
export const DIVERGED = -4;

const MAX_IDLE_ROUNDS = 1000;
/** Virtual time an idle round lets pass (ms). */
const IDLE_MS = 1;
/** Consecutive steps one actor may run while others could: then it must yield (fairness). */
const STARVE_LIMIT = 1000;

const { random: RANDOM, dfs: DFS, replay: REPLAY } = STRATEGY_CODES;

/**
 * Who performs the next operation: an actor index, or NONE (nothing left to run), DEADLOCK,
 * LIVELOCK or DIVERGED. Applies timeouts and spurious wake-ups it chooses. `me` holds the token;
 * `meSpinning`: it has been re-reading unchanged values (scheduler.ts tracks that).
 */
export function decide(c: ExploreControl, n: number, me: number, meSpinning: boolean): number {
  const i = c.i32;
  const f = c.f64;
  for (;;) {
    let runnable = 0;
    let spinning = 0;
    let blocked = 0;
    let unwind = 0;
    for (let t = 0; t < n; t++) {
      const base = actorBase(t);
      const st = i[base + ActorWord.STATUS];
      if (st === ActorStatus.READY || st === ActorStatus.START) {
        runnable |= 1 << t;
        if (st === ActorStatus.READY && i[base + ActorWord.WATCHING] !== 0) spinning |= 1 << t;
      } else if (st === ActorStatus.BLOCKED) blocked |= 1 << t;
      else if (st === ActorStatus.UNWIND) unwind |= 1 << t;
    }
    if (unwind !== 0) return lowestBit(unwind);
    if (runnable === 0) {
      if (blocked === 0) return NONE;
      const t = earliestTimeout(c, blocked, Number.POSITIVE_INFINITY);
      if (t < 0) return DEADLOCK;
      return t;
    }
    let pool = runnable & ~spinning;
    if (pool === 0) {
      // Everyone who could run spins on memory no one is changing: let virtual time pass.
      if (++i[ExploreWord.IDLE_ROUNDS]! > MAX_IDLE_ROUNDS) return LIVELOCK;
      f[ExploreWord.CLOCK_F64] = f[ExploreWord.CLOCK_F64]! + IDLE_MS;
      for (let m = spinning; m !== 0; m &= m - 1)
        i[actorBase(lowestBit(m)) + ActorWord.WATCHING] = 0;
      earliestTimeout(c, blocked, f[ExploreWord.CLOCK_F64]!);
      continue;
    }
    if (
      i[ExploreWord.RUN_LENGTH]! >= STARVE_LIMIT &&
      (pool & (1 << me)) !== 0 &&
      (pool & ~(1 << me)) !== 0 &&
      i[actorBase(me) + ActorWord.STATUS] === ActorStatus.READY
    ) {
      // Fairness: it has run long enough while others could; make it yield (PCT: demote it).
      pool &= ~(1 << me);
      let lowest = Number.POSITIVE_INFINITY;
      for (let t = 0; t < n; t++) lowest = Math.min(lowest, i[actorBase(t) + ActorWord.PRIORITY]!);
      i[actorBase(me) + ActorWord.PRIORITY] = lowest - 1;
      i[ExploreWord.RUN_LENGTH] = 0;
    }
    const delayed = i[ExploreWord.DELAY_ACTOR]!;
    if (delayed >= 0 && i[ExploreWord.DECISIONS]! < i[ExploreWord.DELAY_UNTIL]!) {
      const without = pool & ~(1 << delayed);
      if (without !== 0) pool = without;
    }
    let mask = pool;
    if (i[ExploreWord.SPURIOUS_PPM]! > 0) mask |= blocked << n;
    if ((mask & (mask - 1)) === 0) return lowestBit(mask);
    return choose(c, n, me, meSpinning, mask, pool);
  }
}

/** Time out the blocked actor with the earliest deadline ≤ `limit`; returns it, or -1. */
function earliestTimeout(c: ExploreControl, blocked: number, limit: number): number {
  const i = c.i32;
  const f = c.f64;
  let best = -1;
  let bestDeadline = limit;
  for (let m = blocked; m !== 0; m &= m - 1) {
    const t = lowestBit(m);
    if (i[actorBase(t) + ActorWord.WAIT_TIMED] === 0) continue;
    const d = f[ExploreWord.DEADLINES_F64 + t]!;
    if (d < bestDeadline || (best < 0 && d <= bestDeadline)) {
      best = t;
      bestDeadline = d;
    }
  }
  if (best < 0) return -1;
  if (bestDeadline > f[ExploreWord.CLOCK_F64]!) f[ExploreWord.CLOCK_F64] = bestDeadline;
  i[actorBase(best) + ActorWord.STATUS] = ActorStatus.READY;
  i[actorBase(best) + ActorWord.WAIT_RESULT] = WaitResult.TIMED_OUT;
  return best;
}

/** A real decision between several choices: run the strategy and record it. */
function choose(
  c: ExploreControl,
  n: number,
  me: number,
  meSpinning: boolean,
  mask: number,
  runnable: number,
): number {
  const i = c.i32;
  const d = i[ExploreWord.DECISIONS]!;
  if (d >= c.maxDecisions) return LIVELOCK;
  const current =
    i[actorBase(me) + ActorWord.STATUS] === ActorStatus.READY && (mask & (1 << me)) !== 0 ? me : -1;
  const spinning = current >= 0 && meSpinning;
  const strategy = i[ExploreWord.STRATEGY]!;
  let choice: number;
  if (d < i[ExploreWord.PREFIX_LEN]!) {
    choice = strategy === REPLAY ? c.forced[d]! : c.chosen[d]!;
    if ((mask & (1 << choice)) === 0 || choice >= 2 * n) {
      i[ExploreWord.DIVERGED_AT] = d + 1;
      return DIVERGED;
    }
  } else if (strategy === DFS || strategy === REPLAY) {
    choice = current >= 0 ? current : lowestBit(runnable);
  } else {
    const spurious = mask >>> n;
    if (spurious !== 0 && nextFloat(i, ExploreWord.RNG) * 1e6 < i[ExploreWord.SPURIOUS_PPM]!) {
      choice = n + nthBit(spurious, nextInt(i, ExploreWord.RNG, bitCount(spurious)));
    } else if (strategy === RANDOM) {
      choice = nthBit(runnable, nextInt(i, ExploreWord.RNG, bitCount(runnable)));
    } else {
      choice = pctChoice(i, d, runnable, current, spinning);
    }
  }
  c.enabled[d] = mask;
  c.current[d] = current < 0 ? -1 : current | (spinning ? SPINNING_FLAG : 0);
  c.preBefore[d] = i[ExploreWord.PREEMPTIONS]!;
  if (d >= i[ExploreWord.PREFIX_LEN]!) c.tried[d] = 1 << choice;
  c.chosen[d] = choice;
  i[ExploreWord.DECISIONS] = d + 1;
  if (choice >= n || (current >= 0 && choice !== current && !spinning))
    i[ExploreWord.PREEMPTIONS]!++;
  if (choice >= n) {
    const t = choice - n;
    i[actorBase(t) + ActorWord.STATUS] = ActorStatus.READY;
    i[actorBase(t) + ActorWord.WAIT_RESULT] = WaitResult.OK;
    return t;
  }
  return choice;
}

/**
 * PCT: the runnable actor with the highest priority, after lowering the running one's at a change
 * point; a spinning actor is passed over half the time.
 */
function pctChoice(
  i: Int32Array,
  d: number,
  runnable: number,
  current: number,
  spinning: boolean,
): number {
  if (current >= 0) {
    for (let j = 0; j < MAX_CHANGE_POINTS; j++) {
      const point = i[ExploreWord.CHANGE_POINTS + j]!;
      if (point < 0) break;
      if (point === d) i[actorBase(current) + ActorWord.PRIORITY] = j + 1;
    }
  }
  let candidates = runnable;
  if (spinning && nextFloat(i, ExploreWord.RNG) < 0.5) {
    const others = runnable & ~(1 << current);
    if (others !== 0) candidates = others;
  }
  let best = -1;
  let bestPriority = Number.NEGATIVE_INFINITY;
  for (let m = candidates; m !== 0; m &= m - 1) {
    const t = lowestBit(m);
    const p = i[actorBase(t) + ActorWord.PRIORITY]!;
    if (p > bestPriority) {
      best = t;
      bestPriority = p;
    }
  }
  return best;
}

/**
 * DFS, between trials: move to the next unexplored schedule within the preemption bound — the
 * deepest decision with an untried choice that the bound allows becomes the end of the replayed
 * prefix — or set EXHAUSTED. `depth`: decisions the last trial made.
 */
export function backtrack(c: ExploreControl, n: number, depth: number): void {
  const i = c.i32;
  const bound = i[ExploreWord.PREEMPTION_BOUND]!;
  for (let d = Math.min(depth, c.maxDecisions) - 1; d >= 0; d--) {
    const enabled = c.enabled[d]!;
    let alt = enabled & ~c.tried[d]!;
    const cur = c.current[d]!;
    const curT = cur < 0 ? -1 : cur & (SPINNING_FLAG - 1);
    const spin = cur >= 0 && (cur & SPINNING_FLAG) !== 0;
    while (alt !== 0) {
      const x = lowestBit(alt);
      alt &= alt - 1;
      c.tried[d] = c.tried[d]! | (1 << x);
      const cost = x >= n ? 1 : curT >= 0 && x !== curT && !spin ? 1 : 0;
      if (c.preBefore[d]! + cost <= bound) {
        c.chosen[d] = x;
        i[ExploreWord.PREFIX_LEN] = d + 1;
        return;
      }
    }
  }
  i[ExploreWord.EXHAUSTED] = 1;
}

/** PCT, at the start of a trial: random distinct priorities, and depth − 1 change points. */
export function initPct(i: Int32Array, n: number): void {
  const depth = i[ExploreWord.PCT_DEPTH]!;
  const order = Array.from({ length: n }, (_, t) => t);
  for (let t = n - 1; t > 0; t--) {
    const j = nextInt(i, ExploreWord.RNG, t + 1);
    const tmp = order[t]!;
    order[t] = order[j]!;
    order[j] = tmp;
  }
  for (let t = 0; t < n; t++) i[actorBase(t) + ActorWord.PRIORITY] = depth + order[t]!;
  const k2 = Math.max(i[ExploreWord.PCT_HORIZON]!, 4);
  for (let j = 0; j < MAX_CHANGE_POINTS; j++) {
    i[ExploreWord.CHANGE_POINTS + j] = j < depth - 1 ? nextInt(i, ExploreWord.RNG, k2) : -1;
  }
}

function lowestBit(mask: number): number {
  return 31 - Math.clz32(mask & -mask);
}

function bitCount(mask: number): number {
  let m = mask - ((mask >>> 1) & 0x55555555);
  m = (m & 0x33333333) + ((m >>> 2) & 0x33333333);
  return (Math.imul((m + (m >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

function nthBit(mask: number, nth: number): number {
  for (let m = mask; m !== 0; m &= m - 1) {
    if (nth-- === 0) return lowestBit(m);
  }
  return lowestBit(mask);
}
