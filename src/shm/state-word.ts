/**
 * Atomic state words: several small fields packed into one Int32, changed only by a
 * compare-and-swap loop, so a multi-field state (status, generation, flags) moves from one valid
 * value to the next in a single atomic step and no reader ever sees half a transition.
 *
 * - `defineStateWord({ status: 4, generation: 20, flags: 8 })` lays fields out from bit 0 up, in
 *   declaration order, at most 32 bits in all, and gives pack / unpack / get / with.
 * - `update(view, index, fn)` is the CAS loop: it reads the word, computes `fn(word)`, and
 *   installs it only if the word is still what it read; otherwise it backs off and retries.
 *
 * Invariants and ordering. Every access is an `Atomics` operation (sequentially consistent), and a
 * successful compareExchange installs `fn(w)` only while the word still equals `w`: the update is
 * linearisable at that CAS, exactly as if `fn` had run atomically. `fn` may run several times and
 * must be a pure function of the word. A word that carries a generation counter defeats ABA: a
 * CAS prepared against an older generation fails even if the other fields came back.
 *
 * Backoff. Under contention a failed CAS waits a random number of CPU pauses in [0, 2^k) where k
 * grows per failure up to MAX_BACKOFF_EXPONENT ("full jitter"): bounded, so the loop stays
 * lock-free and never sleeps, and randomised, so contenders stop colliding in lockstep. It never
 * parks, so it is safe on the main thread.
 */
import { ContentionError, InvalidArgumentError } from '../errors.ts';
import { cpuPause } from './runtime.ts';
import { checkInteger, checkSharedInt32View, checkWordRange } from './validate.ts';

export interface BitField {
  readonly shift: number;
  readonly width: number;
  /** The field's largest value (unshifted). */
  readonly max: number;
}

export type StateWordFields<K extends string> = { readonly [P in K]: BitField };

export class StateWordLayout<K extends string> {
  readonly fields: StateWordFields<K>;
  readonly bits: number;
  readonly #names: readonly K[];

  constructor(widths: { readonly [P in K]: number }) {
    if (widths === null || typeof widths !== 'object') {
      throw new InvalidArgumentError('widths', 'expected an object of field name → bit width');
    }
    const names = Object.keys(widths) as K[];
    if (names.length === 0)
      throw new InvalidArgumentError('widths', 'a state word needs at least one field');
    const fields = {} as { [P in K]: BitField };
    let shift = 0;
    for (const name of names) {
      const width = checkInteger(widths[name], `widths.${name}`, 1, 32);
      if (shift + width > 32) {
        throw new InvalidArgumentError(
          `widths.${name}`,
          `fields need ${shift + width} bits; an Int32 has 32`,
        );
      }
      fields[name] = Object.freeze({
        shift,
        width,
        max: width === 32 ? 0xffffffff : 2 ** width - 1,
      });
      shift += width;
    }
    this.fields = Object.freeze(fields);
    this.bits = shift;
    this.#names = names;
  }

  /** One field's value in `word` (unsigned). */
  get(word: number, name: K): number {
    const f = this.#field(name);
    return f.width === 32 ? word >>> 0 : (word >>> f.shift) & f.max;
  }

  /** `word` with field `name` replaced by `value`. Throws if `value` does not fit. */
  with(word: number, name: K, value: number): number {
    const f = this.#field(name);
    if (!Number.isInteger(value) || value < 0 || value > f.max) {
      throw new InvalidArgumentError(
        name,
        `${value} does not fit in ${f.width} bits (0..${f.max})`,
      );
    }
    if (f.width === 32) return value | 0;
    const mask = f.max << f.shift;
    return (word & ~mask) | (value << f.shift) | 0;
  }

  /** Pack the given fields (missing ones are 0) into a word. */
  pack(values: { readonly [P in K]?: number }): number {
    let word = 0;
    for (const name of Object.keys(values) as K[]) word = this.with(word, name, values[name] ?? 0);
    return word;
  }

  /** Every field of `word`, as an object. */
  unpack(word: number): { [P in K]: number } {
    const out = {} as { [P in K]: number };
    for (const name of this.#names) out[name] = this.get(word, name);
    return out;
  }

  #field(name: K): BitField {
    // Own properties only: `fields` is a plain object, so 'toString', 'constructor' or
    // '__proto__' would otherwise find Object.prototype members and corrupt the word silently.
    const f = Object.hasOwn(this.fields, name) ? this.fields[name] : undefined;
    if (f === undefined)
      throw new InvalidArgumentError('name', `no field named ${JSON.stringify(name)}`);
    return f;
  }
}

/** Lay out named bit fields (widths in bits, from bit 0 up) in one Int32 state word. */
export function defineStateWord<K extends string>(
  widths: { readonly [P in K]: number },
): StateWordLayout<K> {
  return new StateWordLayout(widths);
}

export interface UpdateOptions {
  /** Throw ContentionError after this many failed CAS attempts. Default: retry until it lands. */
  maxAttempts?: number;
}

/** Largest backoff exponent: a failed CAS waits at most 2^8 = 256 pauses before retrying. */
export const MAX_BACKOFF_EXPONENT = 8;

/**
 * Atomically replace `view[index]` with `fn(current)`; returns the value it replaced. When `fn`
 * returns the current value, nothing is written. `fn` may run more than once; it must be pure
 * and may throw to abandon the update (nothing is written then).
 */
export function update(
  view: Int32Array,
  index: number,
  fn: (current: number) => number,
  options?: UpdateOptions,
): number {
  checkSharedInt32View(view, 'view');
  checkWordRange(view, index, 1, 'index');
  const maxAttempts =
    options?.maxAttempts === undefined
      ? Number.POSITIVE_INFINITY
      : checkInteger(options.maxAttempts, 'options.maxAttempts', 1, Number.MAX_SAFE_INTEGER);
  let current = Atomics.load(view, index);
  for (let attempt = 1; ; attempt++) {
    const next = fn(current) | 0;
    if (next === current) return current;
    const seen = Atomics.compareExchange(view, index, current, next);
    if (seen === current) return current;
    if (attempt >= maxAttempts) throw new ContentionError('update()', attempt);
    backoff(attempt);
    current = Atomics.load(view, index);
  }
}

/**
 * Install `next` only if the word is `expected`. Returns whether it did. Both are taken as Int32
 * (ToInt32, as Atomics does), so a word given by its unsigned value compares equal to itself.
 */
export function compareAndSet(
  view: Int32Array,
  index: number,
  expected: number,
  next: number,
): boolean {
  checkSharedInt32View(view, 'view');
  checkWordRange(view, index, 1, 'index');
  // Compare with ToInt32(expected), the value Atomics compared: comparing with `expected` itself
  // reported false for 0xffffffff (say) even though the exchange had happened.
  return Atomics.compareExchange(view, index, expected, next) === (expected | 0);
}

function backoff(attempt: number): void {
  const ceiling = 1 << Math.min(attempt, MAX_BACKOFF_EXPONENT);
  const pauses = Math.floor(Math.random() * ceiling);
  for (let i = 0; i < pauses; i++) cpuPause();
}
