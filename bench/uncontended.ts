/**
 * Uncontended cost of each primitive, one thread, next to the floor: a plain typed-array read and
 * one Atomics.load, measured in the same run. Each tinybench call runs BATCH operations so a
 * few-nanosecond operation stays far above the timer's resolution; results are per operation.
 */
import { Bench } from 'tinybench';
import { SharedChannel } from '../src/shm/channel.ts';
import { Mutex } from '../src/shm/mutex.ts';
import { Seqlock } from '../src/shm/seqlock.ts';
import { update } from '../src/shm/state-word.ts';
import { type Summary, summarise } from './stats.ts';

const BATCH = 1_000;
const ASYNC_BATCH = 100;

export interface CaseResult {
  case: string;
  unit: 'ns/op';
  summary: Summary;
}

/** Keeps results observable so V8 cannot drop the measured work. */
export let sink = 0;

export async function runUncontended(options: { timeMs: number }): Promise<CaseResult[]> {
  const view = new Int32Array(new SharedArrayBuffer(64));
  const mutex = Mutex.create();
  const seqlock = Seqlock.create(6);
  const out = new Int32Array(6);
  const values = [1, 2, 3, 4, 5, 6];
  const spsc = SharedChannel.create({ capacity: 1024, messageWords: 1, mode: 'spsc' });
  const mpsc = SharedChannel.create({ capacity: 1024, messageWords: 1, mode: 'mpsc' });
  const message = [7];
  const received = new Int32Array(1);

  const bench = new Bench({
    time: options.timeMs,
    warmupTime: Math.min(200, options.timeMs / 2),
    retainSamples: true,
  });
  const batches = new Map<string, number>();
  const add = (name: string, batch: number, fn: () => unknown) => {
    batches.set(name, batch);
    bench.add(name, fn);
  };
  add('plain Int32Array read (floor)', BATCH, () => {
    let acc = 0;
    for (let i = 0; i < BATCH; i++) acc += view[i & 7] as number;
    sink ^= acc;
  });
  add('Atomics.load', BATCH, () => {
    let acc = 0;
    for (let i = 0; i < BATCH; i++) acc += Atomics.load(view, i & 7);
    sink ^= acc;
  });
  add('Mutex tryLock+unlock', BATCH, () => {
    for (let i = 0; i < BATCH; i++) {
      mutex.tryLock();
      mutex.unlock();
    }
  });
  add('Mutex lockAsync+unlock', ASYNC_BATCH, async () => {
    for (let i = 0; i < ASYNC_BATCH; i++) {
      await mutex.lockAsync();
      mutex.unlock();
    }
  });
  add('Seqlock read (6 fields)', BATCH, () => {
    for (let i = 0; i < BATCH; i++) seqlock.read(out);
    sink ^= out[0] as number;
  });
  add('Seqlock write (6 fields)', BATCH, () => {
    for (let i = 0; i < BATCH; i++) seqlock.write(values);
  });
  add('update() CAS increment', BATCH, () => {
    for (let i = 0; i < BATCH; i++) update(view, 9, (w) => w + 1);
  });
  add('SharedChannel spsc trySend+tryReceive', BATCH, () => {
    for (let i = 0; i < BATCH; i++) {
      spsc.trySend(message);
      spsc.tryReceive(received);
    }
  });
  add('SharedChannel mpsc trySend+tryReceive', BATCH, () => {
    for (let i = 0; i < BATCH; i++) {
      mpsc.trySend(message);
      mpsc.tryReceive(received);
    }
  });
  await bench.run();
  return bench.tasks.map((task) => {
    const result = task.result as { latency?: { samples?: number[] } } | undefined;
    const batch = batches.get(task.name) ?? 1;
    const samples = (result?.latency?.samples ?? []).map((ms) => (ms * 1e6) / batch);
    return { case: task.name, unit: 'ns/op' as const, summary: summarise(samples) };
  });
}
