/**
 * Consecutive probe counts, kept in the slot (fields probeFailures / probeSuccesses, published
 * under the slot's seqlock) so any thread can read them lock-free. Each Int32 field packs the
 * three probes' counts, 10 bits each (saturating at 1023; thresholds are at most 1000):
 * liveness in bits 0–9, readiness in 10–19, startup in 20–29.
 */
import type { ProbeName } from './spec.ts';

const SHIFT: Record<ProbeName, number> = { liveness: 0, readiness: 10, startup: 20 };
const MASK = 0x3ff;

export function countOf(packed: number, probe: ProbeName): number {
  return (packed >>> SHIFT[probe]) & MASK;
}

export function withCount(packed: number, probe: ProbeName, count: number): number {
  const shift = SHIFT[probe];
  return (packed & ~(MASK << shift)) | (Math.min(count, MASK) << shift);
}

export interface ProbeCounts {
  failures: number;
  successes: number;
}

/** Decode a slot's probeFailures / probeSuccesses into per-probe consecutive counts. */
export function decodeProbeCounts(
  probeFailures: number,
  probeSuccesses: number,
): Record<ProbeName, ProbeCounts> {
  const one = (p: ProbeName) => ({
    failures: countOf(probeFailures, p),
    successes: countOf(probeSuccesses, p),
  });
  return { liveness: one('liveness'), readiness: one('readiness'), startup: one('startup') };
}
