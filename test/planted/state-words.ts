/**
 * Deliberately broken state-word updates, the planted bugs the state-word tests must catch. Each
 * has the signature of `update(view, index, fn)`, so the same worker code runs against any of them.
 *
 * - 'lost-update': load → fn → Atomics.store. Every access is atomic, yet the read-modify-write
 *   is not: a store can overwrite another thread's update made between this thread's load and
 *   store, and that update is lost.
 */
import { type UpdateOptions, update } from '../../src/shm/state-word.ts';

export type Updater = (
  view: Int32Array,
  index: number,
  fn: (current: number) => number,
  options?: UpdateOptions,
) => number;

function lostUpdate(view: Int32Array, index: number, fn: (current: number) => number): number {
  const current = Atomics.load(view, index);
  const next = fn(current) | 0;
  if (next !== current) Atomics.store(view, index, next);
  return current;
}

export const stateWordUpdaters = {
  correct: update,
  'lost-update': lostUpdate,
} as const satisfies Record<string, Updater>;

export type StateWordVariant = keyof typeof stateWordUpdaters;
