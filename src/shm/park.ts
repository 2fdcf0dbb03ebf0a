/**
 * Parking: how every primitive sleeps once spinning has not helped.
 *
 * - `parkSync` wraps `Atomics.wait`: for workers only (callers refuse the main thread first).
 * - `parkAsync` wraps `Atomics.waitAsync`: never blocks, so it is what the main thread uses.
 *
 * Both return the raw outcome; callers re-check their own condition after every wake-up, so a
 * spurious or stale wake-up costs a loop iteration, never correctness.
 *
 * Two Node facts shape `parkAsync`:
 * 1. A pending `waitAsync` does not keep the event loop alive, so while parked we hold a ref'd
 *    timer; it is cleared the moment the wait settles.
 * 2. A `waitAsync` cannot be cancelled. When the caller's AbortSignal fires we settle the
 *    caller's promise at once, but the V8 waiter stays queued. If it later consumes a
 *    `notify(…, 1)` meant for a live waiter, that wake-up would be lost, so an abandoned waiter
 *    that wakes with 'ok' passes the wake-up on with one more notify. Each park is also sliced to
 *    at most MAX_PARK_SLICE_MS, so an abandoned waiter never lingers longer than that.
 */
import { now } from './runtime.ts';

export type ParkOutcome = 'ok' | 'not-equal' | 'timed-out';

/** The longest single `waitAsync`; callers loop until their own deadline. */
export const MAX_PARK_SLICE_MS = 1000;

/** Blocking park until `view[index] !== expected`, a notify, or `deadline` (performance.now ms). */
export function parkSync(
  view: Int32Array,
  index: number,
  expected: number,
  deadline: number,
): ParkOutcome {
  if (deadline === Number.POSITIVE_INFINITY) return Atomics.wait(view, index, expected);
  const remaining = deadline - now();
  if (remaining <= 0) return 'timed-out';
  return Atomics.wait(view, index, expected, remaining);
}

const noop = () => {};

/**
 * Non-blocking park. Resolves with the outcome; rejects with `signal.reason` if the signal aborts
 * first. A 'timed-out' outcome may mean only that one slice ended: compare the clock to the
 * deadline yourself.
 */
export function parkAsync(
  view: Int32Array,
  index: number,
  expected: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<ParkOutcome> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const slice = Math.min(MAX_PARK_SLICE_MS, deadline - now());
  if (slice <= 0) return Promise.resolve('timed-out');
  const result = Atomics.waitAsync(view, index, expected, slice);
  if (!result.async) return Promise.resolve(result.value);
  return new Promise<ParkOutcome>((resolve, reject) => {
    let settled = false;
    const keepAlive = setTimeout(noop, slice + 50);
    const onAbort = () => {
      settled = true;
      clearTimeout(keepAlive);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    result.value.then((outcome) => {
      if (settled) {
        // Abandoned: this wake-up was meant for someone else; hand it on.
        if (outcome === 'ok') Atomics.notify(view, index, 1);
        return;
      }
      settled = true;
      clearTimeout(keepAlive);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    });
  });
}
