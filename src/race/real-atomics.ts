/**
 * The runtime's own Atomics, captured before the race harness swaps the global in an actor thread.
 * The first module instance to load stores it under a registry symbol, so a second instance of
 * this module (the same file loaded again under another loader namespace, after the swap) still
 * gets the original and never the harness's wrapper.
 */
const KEY = Symbol.for('atomvisor.race.realAtomics');
const registry = globalThis as unknown as Record<symbol, typeof Atomics | undefined>;
registry[KEY] ??= Atomics;

export const RealAtomics: typeof Atomics = registry[KEY] as typeof Atomics;

type Pause = (hint?: number) => void;
const pause = (RealAtomics as typeof Atomics & { pause?: Pause }).pause;

/** Atomics.pause where the runtime has it (Node ≥ 24), else nothing. */
export const realPause: () => void =
  typeof pause === 'function' ? () => (pause as Pause).call(RealAtomics) : () => {};
