/**
 * The Atomics an actor thread's code sees. `installShim()` replaces `globalThis.Atomics` in the
 * actor worker (user code looks the global up at each call, so this is what reaches it) with a
 * wrapper that routes every call:
 *
 * - explore mode, inside a trial: through the ExploreScheduler — each call on a SharedArrayBuffer
 *   is a scheduling point; wait/notify are modelled; waitAsync is refused.
 * - stress mode, inside a trial: through the StressDriver — random short spins before some calls
 *   (perturbation), injected spurious wake-ups of wait, a delay, or termination of the thread at
 *   a chosen call (fault injection).
 * - otherwise (module loading, between trials, the harness's own code): straight to the runtime.
 *
 * In explore mode it also swaps performance.now, Date.now and Math.random for a virtual clock and
 * a per-trial seeded generator while a trial runs, so that trials are deterministic.
 */
import { OpCode } from './control.ts';
import { RaceUnsupportedError } from './errors.ts';
import { Rng } from './prng.ts';
import { RealAtomics as RA, realPause } from './real-atomics.ts';
import { coerce, type ExploreScheduler } from './scheduler.ts';

/** Stress mode: perturbation and fault injection around real Atomics calls. */
export class StressDriver {
  active = false;
  /** Atomics calls this trial (for choosing a kill point). */
  ops = 0;
  #rng = new Rng(1);
  #perturb = 0;
  #spurious = 0;
  #killAt = 0;
  #delayAt = 0;
  #delaySpins = 0;

  beginTrial(options: {
    seed: number;
    /** 0 none; 1 light (1 call in 16, up to ~0.6 µs); 2 heavy (1 in 4, up to ~5 µs). */
    perturb: number;
    spurious: number;
    killAt: number;
    delayAt: number;
    delaySpins: number;
  }): void {
    this.#rng.reseed(options.seed);
    this.#perturb = options.perturb;
    this.#spurious = options.spurious;
    this.#killAt = options.killAt;
    this.#delayAt = options.delayAt;
    this.#delaySpins = options.delaySpins;
    this.ops = 0;
    this.active = true;
  }

  endTrial(): void {
    this.active = false;
  }

  before(): void {
    const op = ++this.ops;
    if (op === this.#killAt) process.exit(0); // terminated mid-operation: no finally block runs
    if (op === this.#delayAt) spin(this.#delaySpins);
    if (this.#perturb === 1) {
      if ((this.#rng.u32() & 15) === 0) spin(this.#rng.int(64));
    } else if (this.#perturb === 2) {
      if ((this.#rng.u32() & 3) === 0) spin(this.#rng.int(512));
    }
  }

  wait(ta: Int32Array, index: number, value: number, timeout?: number): string {
    this.before();
    if (this.#spurious > 0 && this.#rng.random() < this.#spurious) {
      const slice = this.#rng.random();
      const real =
        timeout === undefined || Number.isNaN(timeout) ? Number.POSITIVE_INFINITY : timeout;
      if (real > slice) {
        const outcome = RA.wait(ta, index, value, slice);
        return outcome === 'timed-out' ? 'ok' : outcome; // a spurious wake-up
      }
    }
    return RA.wait(ta, index, value, timeout);
  }
}

const scratch = new Int32Array(new SharedArrayBuffer(4));

/** Busy-wait about n × 10 ns without touching the test's memory. */
function spin(n: number): void {
  for (let i = 0; i < n; i++) {
    RA.load(scratch, 0);
    realPause();
  }
}

let explore: ExploreScheduler | null = null;
let stress: StressDriver | null = null;
let installed = false;
const actorRng = new Rng(1);

/** Route this thread's Atomics through `driver` (null: straight through). */
export function useExplore(scheduler: ExploreScheduler | null): void {
  explore = scheduler;
}

export function useStress(driver: StressDriver | null): void {
  stress = driver;
}

/** Seed Math.random for the actor's next explore trial. */
export function seedActorRandom(seed: number): void {
  actorRng.reseed(seed);
}

export function actorRandom(): number {
  return actorRng.random();
}

// biome-ignore lint/suspicious/noExplicitAny: the wrapper mirrors Atomics' loose signatures
type AnyTA = any;

/** An in-range integer index into a typed array over a SharedArrayBuffer: a shared location. */
function shared(ta: AnyTA, index: unknown): boolean {
  return (
    ArrayBuffer.isView(ta) &&
    ta.buffer instanceof SharedArrayBuffer &&
    typeof index === 'number' &&
    Number.isInteger(index) &&
    index >= 0 &&
    index < (ta as Int32Array).length
  );
}

function rmw(op: number, ta: AnyTA, index: number, run: () => number | bigint): number | bigint {
  const s = explore;
  if (s?.active && shared(ta, index)) {
    const buf = s.bufferId(ta.buffer as SharedArrayBuffer);
    const byte = ta.byteOffset + index * ta.BYTES_PER_ELEMENT;
    s.point(op, buf, byte);
    const result = run();
    s.noteWrite(buf, byte);
    return result;
  }
  if (stress?.active) stress.before();
  return run();
}

const wrapper = {
  add: (ta: AnyTA, i: number, v: AnyTA) => rmw(OpCode.add, ta, i, () => RA.add(ta, i, v)),
  sub: (ta: AnyTA, i: number, v: AnyTA) => rmw(OpCode.sub, ta, i, () => RA.sub(ta, i, v)),
  and: (ta: AnyTA, i: number, v: AnyTA) => rmw(OpCode.and, ta, i, () => RA.and(ta, i, v)),
  or: (ta: AnyTA, i: number, v: AnyTA) => rmw(OpCode.or, ta, i, () => RA.or(ta, i, v)),
  xor: (ta: AnyTA, i: number, v: AnyTA) => rmw(OpCode.xor, ta, i, () => RA.xor(ta, i, v)),
  exchange: (ta: AnyTA, i: number, v: AnyTA) =>
    rmw(OpCode.exchange, ta, i, () => RA.exchange(ta, i, v)),
  store: (ta: AnyTA, i: number, v: AnyTA) => rmw(OpCode.store, ta, i, () => RA.store(ta, i, v)),
  load(ta: AnyTA, i: number) {
    const s = explore;
    if (s?.active && shared(ta, i)) {
      const buf = s.bufferId(ta.buffer as SharedArrayBuffer);
      const byte = ta.byteOffset + i * ta.BYTES_PER_ELEMENT;
      const current = RA.load(ta, i);
      if (s.skipRead(buf, byte, current)) return current;
      s.point(OpCode.load, buf, byte);
      const value = RA.load(ta, i);
      s.noteRead(buf, byte, value);
      return value;
    }
    if (stress?.active) stress.before();
    return RA.load(ta, i);
  },
  compareExchange(ta: AnyTA, i: number, expected: AnyTA, replacement: AnyTA) {
    const s = explore;
    if (s?.active && shared(ta, i)) {
      const buf = s.bufferId(ta.buffer as SharedArrayBuffer);
      const byte = ta.byteOffset + i * ta.BYTES_PER_ELEMENT;
      const want = coerce(ta, expected);
      const current = RA.load(ta, i);
      if (current !== want && s.skipRead(buf, byte, current)) {
        return RA.compareExchange(ta, i, expected, replacement);
      }
      s.point(OpCode.compareExchange, buf, byte);
      const seen = RA.compareExchange(ta, i, expected, replacement);
      if (seen === want) s.noteWrite(buf, byte);
      else s.noteRead(buf, byte, seen);
      return seen;
    }
    if (stress?.active) stress.before();
    return RA.compareExchange(ta, i, expected, replacement);
  },
  wait(ta: AnyTA, i: number, value: AnyTA, timeout?: number) {
    const s = explore;
    if (s?.active && shared(ta, i) && (ta instanceof Int32Array || ta instanceof BigInt64Array)) {
      return s.wait(ta, i, value, timeout);
    }
    if (stress?.active && ta instanceof Int32Array) return stress.wait(ta, i, value, timeout);
    return RA.wait(ta, i, value, timeout);
  },
  notify(ta: AnyTA, i: number, count?: number) {
    const s = explore;
    if (s?.active && shared(ta, i) && (ta instanceof Int32Array || ta instanceof BigInt64Array)) {
      return s.notify(ta, i, count);
    }
    if (stress?.active) stress.before();
    return RA.notify(ta, i, count);
  },
  waitAsync(ta: AnyTA, i: number, value: AnyTA, timeout?: number) {
    if (explore?.active) {
      throw new RaceUnsupportedError(
        'Atomics.waitAsync',
        'actors run synchronously in explore mode; use Atomics.wait in the actor, or run the test in stress mode only (modes: ["stress"])',
      );
    }
    return (RA as unknown as { waitAsync: (...a: unknown[]) => unknown }).waitAsync(
      ta,
      i,
      value,
      timeout,
    );
  },
};

const realPerformanceNow = performance.now.bind(performance);
const realDateNow = Date.now;
const realRandom = Math.random;
/** Date.now() in explore trials: a fixed epoch plus virtual time. */
const VIRTUAL_EPOCH_MS = 1_700_000_000_000;

/** Replace Atomics (and, for explore trials, the clocks and Math.random) in this thread. */
export function installShim(): void {
  if (installed) return;
  installed = true;
  const shim: Record<string | symbol, unknown> = {};
  for (const key of Reflect.ownKeys(RA)) {
    const d = Object.getOwnPropertyDescriptor(RA, key)!;
    Object.defineProperty(shim, key, d);
  }
  for (const [key, fn] of Object.entries(wrapper)) {
    if (
      key === 'waitAsync' &&
      typeof (RA as unknown as Record<string, unknown>).waitAsync !== 'function'
    )
      continue;
    Object.defineProperty(shim, key, {
      value: fn,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  globalThis.Atomics = shim as unknown as typeof Atomics;
  performance.now = () => (explore?.active ? explore.clock : realPerformanceNow());
  Date.now = () => (explore?.active ? VIRTUAL_EPOCH_MS + Math.floor(explore.clock) : realDateNow());
  Math.random = () => (explore?.active ? actorRng.random() : realRandom());
}
