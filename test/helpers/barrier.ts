/**
 * A start line in shared memory, so the threads of a concurrency test begin together and collide.
 * Workers call `arriveAndWait` (it blocks, so workers only); the test makes it with `createBarrier`.
 */
export function createBarrier(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

export function arriveAndWait(barrier: Int32Array, parties: number): void {
  Atomics.add(barrier, 0, 1);
  for (;;) {
    const arrived = Atomics.load(barrier, 0);
    if (arrived >= parties) return;
    Atomics.wait(barrier, 0, arrived, 5);
  }
}
