// One thread of the Seqlock invariant stress. Writers store one value into every field (writer w
// writes k * 2 + w on its k-th write) until the stop flag is set; readers take snapshots and count
// those whose fields are not all equal: a torn read. The variant picks a correct or planted lock.
import { parentPort, workerData } from 'node:worker_threads';
import type { SeqlockHandle } from '../../../src/shm/seqlock.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';
import { type SeqlockVariant, seqlockVariants } from '../../planted/seqlocks.ts';

const { variant, role, id, handle, stop, violations, barrier, parties, reads, stopAtFirst } =
  workerData as {
    variant: SeqlockVariant;
    role: 'writer' | 'reader';
    id: number;
    handle: SeqlockHandle;
    stop: Int32Array;
    violations: Int32Array;
    barrier: Int32Array;
    parties: number;
    reads: number;
    stopAtFirst: boolean;
  };
const lock = seqlockVariants[variant](handle);
const fieldCount = handle.fieldCount;
const wait = { timeoutMs: 30_000 };
arriveAndWait(barrier, parties);

if (role === 'writer') {
  const values = new Int32Array(fieldCount);
  let k = 0;
  while (Atomics.load(stop, 0) === 0) {
    values.fill(k * 2 + id);
    lock.write(values, 0, wait);
    k++;
  }
  parentPort!.postMessage({ writes: k });
} else {
  const out = new Int32Array(fieldCount);
  let done = 0;
  let torn = 0;
  let sample: number[] | undefined;
  while (done < reads) {
    lock.read(out, wait);
    done++;
    const first = out[0];
    for (let i = 1; i < fieldCount; i++) {
      if (out[i] !== first) {
        torn++;
        sample ??= Array.from(out);
        Atomics.add(violations, 0, 1);
        break;
      }
    }
    if (stopAtFirst && Atomics.load(violations, 0) > 0) break;
  }
  parentPort!.postMessage({ reads: done, violations: torn, sample });
}
