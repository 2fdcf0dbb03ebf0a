// One thread of the F3 scenario (bench/scenarios/f3.ts). Phase 1: every thread increments one
// shared counter until thread 0 says stop (a time window, so the threads overlap even when one
// starts late on a busy machine), counting its own increments locally; phase 2: thread 0 rewrites the shared process record without pause while
// thread 1 reads it, counting torn reads and timing them. Both phases start on a shared-memory
// barrier; the reader's timed window is one the writer fully overlaps (the writer stops only
// after the reader is done).
import { parentPort, workerData } from 'node:worker_threads';
import { Seqlock, type SeqlockHandle } from '../../src/shm/seqlock.ts';
import { update } from '../../src/shm/state-word.ts';
import {
  naiveIncrement,
  naiveReadRecord,
  naiveWriteRecord,
  RECORD_FIELDS,
} from '../naive/f3-plain-shared-record.ts';

export interface F3Work {
  design: 'naive' | 'atomvisor';
  role: number;
  parties: number;
  /** How long phase 1 lasts (thread 0 raises the stop flag). */
  incrementMs: number;
  reads: number;
  /** [0] barrier, [1] writer stop flag, [2] counter, [3] phase-1 stop flag, [8..] the record. */
  shared: Int32Array;
  seqlock: SeqlockHandle;
}

export interface F3Reply {
  /** Increments this thread made in phase 1. */
  increments: number;
  torn: number;
  readNs: number;
}

export const RECORD_BASE = 8;

const work = workerData as F3Work;
const { shared } = work;

function barrier(generation: number): void {
  Atomics.add(shared, 0, 1);
  const target = work.parties * generation;
  for (;;) {
    const arrived = Atomics.load(shared, 0);
    if (arrived >= target) return;
    Atomics.wait(shared, 0, arrived, 1);
  }
}

function consistent(record: Int32Array): boolean {
  const first = record[0];
  for (let i = 1; i < RECORD_FIELDS; i++) if (record[i] !== first) return false;
  return true;
}

function run(): F3Reply {
  const naive = work.design === 'naive';
  const seqlock = Seqlock.from(work.seqlock);
  barrier(1);
  let increments = 0;
  const stopAt = performance.now() + work.incrementMs;
  while (Atomics.load(shared, 3) === 0) {
    for (let i = 0; i < 1024; i++) {
      if (naive) naiveIncrement(shared, 2);
      else update(shared, 2, (w) => w + 1);
    }
    increments += 1024;
    if (work.role === 0 && performance.now() >= stopAt) Atomics.store(shared, 3, 1);
  }
  barrier(2);
  if (work.role === 0) {
    const values = new Int32Array(RECORD_FIELDS);
    for (let v = 1; Atomics.load(shared, 1) === 0; v++) {
      values.fill(v);
      if (naive) naiveWriteRecord(shared, RECORD_BASE, values);
      else seqlock.write(values);
    }
    return { increments, torn: 0, readNs: 0 };
  }
  if (work.role !== 1) return { increments, torn: 0, readNs: 0 };
  const out = new Int32Array(RECORD_FIELDS);
  let torn = 0;
  const t0 = performance.now();
  for (let i = 0; i < work.reads; i++) {
    if (naive) naiveReadRecord(shared, RECORD_BASE, out);
    else seqlock.read(out);
    if (!consistent(out)) torn++;
  }
  const readNs = ((performance.now() - t0) * 1e6) / work.reads;
  Atomics.store(shared, 1, 1);
  return { increments, torn, readNs };
}

parentPort?.postMessage(run());
