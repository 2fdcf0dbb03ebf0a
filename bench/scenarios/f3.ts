/**
 * F3 scenario: a shared process record and counter used by real worker threads at once.
 *
 * - naive: bench/naive/f3-plain-shared-record.ts — plain field access and `x = x + 1`.
 * - atomvisor: the counter changes by CAS (`update`, the state-word loop) and the record is
 *   written and read under a Seqlock.
 *
 * Figures per sample (fresh workers each): lost updates (increments that vanished), torn reads
 * (records seen half-written), and the cost of one record read while a writer keeps rewriting it.
 */
import { Seqlock } from '../../src/shm/seqlock.ts';
import { spawnWorker, workerEntry } from '../../src/spawn-worker.ts';
import { RECORD_FIELDS } from '../naive/f3-plain-shared-record.ts';
import type { F3Reply, F3Work } from './f3.worker.ts';

const ENTRY = workerEntry(import.meta.url, './f3.worker');

export interface F3Params {
  threads: number;
  /** Phase 1's length: every thread increments the counter for this long. */
  incrementMs: number;
  reads: number;
  samples: number;
}

export interface F3Sample {
  lostUpdates: number;
  tornReads: number;
  readNs: number;
  expected: number;
}

async function sample(design: 'naive' | 'atomvisor', p: F3Params): Promise<F3Sample> {
  const shared = new Int32Array(new SharedArrayBuffer(4 * (8 + RECORD_FIELDS)));
  const seqlock = Seqlock.create(RECORD_FIELDS);
  const workers = Array.from({ length: p.threads }, (_, role) =>
    spawnWorker(ENTRY, {
      design,
      role,
      parties: p.threads,
      incrementMs: p.incrementMs,
      reads: p.reads,
      shared,
      seqlock: seqlock.handle,
    } satisfies F3Work as unknown as Record<string, unknown>),
  );
  try {
    const replies = await Promise.all(
      workers.map(
        (w) =>
          new Promise<F3Reply>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.once('exit', (code) => reject(new Error(`F3 worker exited with code ${code}`)));
          }),
      ),
    );
    const expected = replies.reduce((n, r) => n + r.increments, 0);
    const reader = replies[1] as F3Reply;
    return {
      lostUpdates: expected - Atomics.load(shared, 2),
      tornReads: reader.torn,
      readNs: reader.readNs,
      expected,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export async function runF3(design: 'naive' | 'atomvisor', p: F3Params): Promise<F3Sample[]> {
  if (p.threads < 2) throw new Error('F3 needs at least 2 threads (a writer and a reader)');
  await sample(design, {
    ...p,
    incrementMs: Math.ceil(p.incrementMs / 5),
    reads: Math.ceil(p.reads / 10),
  }); // warm-up
  const out: F3Sample[] = [];
  for (let i = 0; i < p.samples; i++) out.push(await sample(design, p));
  return out;
}
