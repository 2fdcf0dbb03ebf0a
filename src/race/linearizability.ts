/**
 * Linearizability checking (Wing & Gong's search with Lowe's just-in-time linearization and
 * memoisation, as in Porcupine).
 *
 * A history is a set of operations, each with a call time and a return time from one shared
 * logical clock (the harness stamps them with an atomic counter, so "A returned before B was
 * called" in the history means it really did). It is linearizable if the operations can be put in
 * one sequence that respects that real-time order and that the sequential `model` accepts, output
 * for output.
 *
 * The search keeps the remaining call/return events in a linked list. It tries to linearize a call
 * that comes before the first remaining return: if the model accepts it and the pair (set of
 * operations linearized, model state) has not been seen before, it takes it out and goes on;
 * reaching a return whose operation was not linearized means backtracking. Memoising that pair is
 * what keeps the search practical.
 *
 * Operations that never returned (their actor threw or was killed) are pending: they may be
 * linearized anywhere after their call, or not at all; the model sees them with output undefined
 * and `pending` true.
 *
 * On failure `minimalFailingHistory` shrinks the history by dropping operations while it still
 * fails, giving a 1-minimal failing sub-history: every operation in it is needed for the failure.
 */

/** A sequential specification (Porcupine's model). */
export interface SequentialModel<S> {
  init(): S;
  /**
   * Apply operation `op` with `input` to `state`: is `output` what the object would return, and
   * what is the state after? Return [ok, nextState]. For a pending operation output is undefined.
   */
  step(
    state: S,
    op: string,
    input: unknown,
    output: unknown,
    pending: boolean,
  ): readonly [boolean, S];
  /** A string that identifies a state (for memoisation). Default: JSON.stringify. */
  key?(state: S): string;
}

export interface HistoryOp {
  actor: number;
  op: string;
  input: unknown;
  output: unknown;
  call: number;
  /** Return time; Infinity for a pending operation. */
  ret: number;
}

export type LinearizabilityVerdict = 'linearizable' | 'not linearizable' | 'unknown';

export interface CheckOptions {
  /** Search steps before giving up with 'unknown'. Default 1 000 000. */
  maxSteps?: number;
}

interface Entry {
  call: boolean;
  id: number;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** JSON.stringify that writes a bigint as `<digits>n` instead of throwing. */
export function jsonWithBigInts(value: unknown): string | undefined {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function defaultKey(state: unknown): string {
  return jsonWithBigInts(state) ?? 'undefined';
}

/** Check `history` against `model`. */
export function checkLinearizability<S>(
  model: SequentialModel<S>,
  history: readonly HistoryOp[],
  options: CheckOptions = {},
): LinearizabilityVerdict {
  const budget = options.maxSteps ?? 1_000_000;
  const key = model.key ?? defaultKey;
  const n = history.length;
  const entries: Entry[] = [];
  let completed = 0;
  for (let id = 0; id < n; id++) {
    const h = history[id]!;
    const call: Entry = { call: true, id, time: h.call, match: null, prev: null, next: null };
    entries.push(call);
    if (Number.isFinite(h.ret)) {
      const ret: Entry = { call: false, id, time: h.ret, match: null, prev: null, next: null };
      call.match = ret;
      entries.push(ret);
      completed++;
    }
  }
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Entry = { call: false, id: -1, time: -1, match: null, prev: null, next: null };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match;
    if (m) {
      m.prev!.next = m.next;
      if (m.next) m.next.prev = m.prev;
    }
  };
  const unlift = (e: Entry) => {
    const m = e.match;
    if (m) {
      m.prev!.next = m;
      if (m.next) m.next.prev = m;
    }
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const words = new Uint32Array(Math.ceil(n / 32) || 1);
  const cache = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let remaining = completed;
  let steps = 0;
  for (;;) {
    if (remaining === 0) return 'linearizable';
    if (++steps > budget) return 'unknown';
    if (entry?.call) {
      const h = history[entry.id]!;
      const pending = entry.match === null;
      const [ok, next] = model.step(state, h.op, h.input, pending ? undefined : h.output, pending);
      if (ok) {
        words[entry.id >>> 5] = words[entry.id >>> 5]! | (1 << (entry.id & 31));
        const k = `${words.join(',')}|${key(next)}`;
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          if (!pending) remaining--;
          entry = head.next;
          continue;
        }
        words[entry.id >>> 5] = words[entry.id >>> 5]! & ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      const top = stack.pop();
      if (top === undefined) return 'not linearizable';
      state = top.state;
      const id = top.entry.id;
      words[id >>> 5] = words[id >>> 5]! & ~(1 << (id & 31));
      unlift(top.entry);
      if (top.entry.match !== null) remaining++;
      entry = top.entry.next;
    }
  }
}

/** The history as it stood at time `t`: operations called by then; those not yet returned pending. */
export function historyAt(history: readonly HistoryOp[], t: number): HistoryOp[] {
  return history
    .filter((h) => h.call <= t)
    .map((h) => (h.ret <= t ? h : { ...h, output: undefined, ret: Number.POSITIVE_INFINITY }));
}

/**
 * The shortest prefix of a non-linearizable history — cut at an event time, operations still
 * running at the cut kept as pending — that is already not linearizable. Linearizability is
 * prefix-closed, so this is well defined and found by binary search over event times; everything
 * that happened before the first impossible result is kept, so the context that makes it
 * impossible is all there. This is what the harness reports.
 */
export function shortestFailingPrefix<S>(
  model: SequentialModel<S>,
  history: readonly HistoryOp[],
  options: CheckOptions = {},
): HistoryOp[] {
  const times = [...new Set(history.flatMap((h) => [h.call, h.ret]))]
    .filter((t) => Number.isFinite(t))
    .sort((a, b) => a - b);
  if (times.length === 0) return [...history];
  let lo = 0;
  let hi = times.length - 1;
  if (checkLinearizability(model, historyAt(history, times[hi]!), options) !== 'not linearizable') {
    return [...history];
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (
      checkLinearizability(model, historyAt(history, times[mid]!), options) === 'not linearizable'
    )
      hi = mid;
    else lo = mid + 1;
  }
  return historyAt(history, times[hi]!);
}

/**
 * Shrink a non-linearizable history to a 1-minimal failing sub-history (removing any one
 * operation makes it linearizable or undecided). Bounded by `maxChecks` checks. Beware: dropping
 * an operation also drops its effect, so the sub-history can fail for a reason the full history
 * does not have (a 'full' result with the sends that filled the queue removed);
 * `shortestFailingPrefix` keeps the context.
 */
export function minimalFailingHistory<S>(
  model: SequentialModel<S>,
  history: readonly HistoryOp[],
  options: CheckOptions & { maxChecks?: number } = {},
): HistoryOp[] {
  let current = [...history];
  let checks = options.maxChecks ?? 2000;
  let changed = true;
  while (changed && checks > 0) {
    changed = false;
    for (let i = 0; i < current.length && checks > 0; i++) {
      const candidate = current.filter((_, j) => j !== i);
      checks--;
      if (checkLinearizability(model, candidate, options) === 'not linearizable') {
        current = candidate;
        changed = true;
        i--;
      }
    }
  }
  return current;
}

function show(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return jsonWithBigInts(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** One line per operation, in call order: `actor 1: inc() → 3   [4, 9]`. */
export function formatHistory(history: readonly HistoryOp[]): string {
  return [...history]
    .sort((a, b) => a.call - b.call)
    .map((h) => {
      const out = Number.isFinite(h.ret) ? ` → ${show(h.output)}` : ' (pending: had not returned)';
      const ret = Number.isFinite(h.ret) ? String(h.ret) : '∞';
      return `actor ${h.actor}: ${h.op}(${show(h.input)})${out}   [${h.call}, ${ret}]`;
    })
    .join('\n');
}

// -----------------------------------------------------------------------------------------------
// Ready-made models

/** A counter: 'inc' / 'add' (input = delta, default 1) return the previous value; 'get' reads. */
export const counterModel: SequentialModel<number> = {
  init: () => 0,
  step(state, op, input, output, pending) {
    if (op === 'get') return [pending || output === state, state];
    const delta = op === 'inc' ? 1 : Number(input ?? 1);
    return [pending || output === state, (state + delta) | 0];
  },
};

/** A register: 'write' (input) returns nothing; 'read' returns the value (initially `initial`). */
export function registerModel<V>(initial: V): SequentialModel<V> {
  return {
    init: () => initial,
    step(state, op, input, output, pending) {
      if (op === 'write') return [true, input as V];
      return [pending || defaultKey(output) === defaultKey(state), state];
    },
  };
}

/**
 * A bounded FIFO queue: 'send' (input) returns 'sent' or 'full'; 'receive' returns the oldest
 * value or 'empty'. Values are compared by JSON.
 */
export function fifoModel(capacity: number): SequentialModel<readonly unknown[]> {
  return {
    init: () => [],
    step(state, op, input, output, pending) {
      if (op === 'send') {
        if (state.length >= capacity) return [pending || output === 'full', state];
        if (pending) return [true, [...state, input]];
        return [output === 'sent', output === 'sent' ? [...state, input] : state];
      }
      if (state.length === 0) return [pending || output === 'empty', state];
      if (pending) return [true, state.slice(1)];
      return [defaultKey(output) === defaultKey(state[0]), state.slice(1)];
    },
  };
}
