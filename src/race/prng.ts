/**
 * Deterministic pseudo-random numbers for schedules and injected faults: xoshiro128** whose four
 * state words may live in shared memory (the explore scheduler keeps them in its control buffer,
 * so whichever thread holds the token draws the next number) or in a private Int32Array.
 */

/** Mix a 32-bit value (splitmix32 finaliser). */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Combine values into one 32-bit seed. */
export function hashSeed(...parts: readonly (number | string)[]): number {
  let h = 0x2545f491;
  for (const part of parts) {
    if (typeof part === 'number') {
      h = mix32(h ^ (part >>> 0));
      h = mix32(h ^ Math.floor(part / 2 ** 32));
    } else {
      for (let i = 0; i < part.length; i++) h = mix32(h ^ part.charCodeAt(i));
    }
  }
  return h >>> 0;
}

/** Fill the 4 words at `at` from `seed` (never all zero). */
export function seedRng(words: Int32Array, at: number, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    s = mix32(s + i);
    words[at + i] = s | 0;
  }
  if ((words[at]! | words[at + 1]! | words[at + 2]! | words[at + 3]!) === 0) words[at] = 1;
}

/** Next unsigned 32-bit number (xoshiro128**), advancing the state at `at`. */
export function nextU32(w: Int32Array, at: number): number {
  const s0 = w[at]!;
  const s1 = w[at + 1]!;
  const s2 = w[at + 2]!;
  const s3 = w[at + 3]!;
  const t = Math.imul(s1, 5);
  const result = Math.imul((t << 7) | (t >>> 25), 9) >>> 0;
  const u = s1 << 9;
  const n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  const n1 = s1 ^ n2;
  const n0 = s0 ^ n3;
  w[at] = n0;
  w[at + 1] = n1;
  w[at + 2] = n2 ^ u;
  w[at + 3] = (n3 << 11) | (n3 >>> 21);
  return result;
}

/** Uniform integer in [0, n). */
export function nextInt(w: Int32Array, at: number, n: number): number {
  return Math.floor((nextU32(w, at) / 2 ** 32) * n);
}

/** Uniform float in [0, 1). */
export function nextFloat(w: Int32Array, at: number): number {
  return nextU32(w, at) / 2 ** 32;
}

/** A private generator: `random()` in [0, 1). */
export class Rng {
  readonly #w = new Int32Array(4);
  constructor(seed: number) {
    seedRng(this.#w, 0, seed);
  }
  reseed(seed: number): void {
    seedRng(this.#w, 0, seed);
  }
  u32(): number {
    return nextU32(this.#w, 0);
  }
  int(n: number): number {
    return nextInt(this.#w, 0, n);
  }
  random(): number {
    return nextFloat(this.#w, 0);
  }
}
