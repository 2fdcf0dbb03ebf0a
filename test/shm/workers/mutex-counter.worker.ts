// N of these increment one plain (non-atomic) counter under a mutex variant. With a correct
// mutex the final count is exact; a broken one loses updates.
import { parentPort, workerData } from 'node:worker_threads';
import type { MutexHandle } from '../../../src/shm/mutex.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';
import { type MutexVariant, mutexVariants } from '../../planted/mutexes.ts';

const { variant, handle, counter, barrier, parties, iterations } = workerData as {
  variant: MutexVariant;
  handle: MutexHandle;
  counter: Int32Array;
  barrier: Int32Array;
  parties: number;
  iterations: number;
};
const mutex = mutexVariants[variant](handle);
arriveAndWait(barrier, parties);
for (let i = 0; i < iterations; i++) {
  mutex.lock();
  const value = counter[0] as number; // plain read-modify-write: only the lock makes it safe
  counter[0] = value + 1;
  mutex.unlock();
}
parentPort!.postMessage({ done: iterations });
