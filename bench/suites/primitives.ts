/**
 * Suite "primitives": what each shared-memory primitive costs, next to the floor.
 *
 * - uncontended (1 thread): a plain Int32Array read and one Atomics.load measured in the same run
 *   as Mutex tryLock/unlock and lockAsync/unlock, Seqlock read/write (6 fields), the state-word
 *   CAS update and SharedChannel send+receive; async-mutex as the single-thread peer of lockAsync.
 *   tinybench times batches of operations so a nanosecond operation stays far above the timer's
 *   resolution; figures are per operation.
 * - contended (2 threads, fresh workers per sample, started on a shared-memory barrier): Mutex
 *   increments, CAS increments, Seqlock reads beside a busy writer, SPSC one-way, SPSC ping-pong.
 *
 * Target: a consistent snapshot (Seqlock read of 6 fields), 1 thread, ≤ 4× one Atomics.load.
 */
import { Bench } from 'tinybench';
import { SharedChannel, type SharedChannelHandle } from '../../src/shm/channel.ts';
import { Mutex } from '../../src/shm/mutex.ts';
import { Seqlock } from '../../src/shm/seqlock.ts';
import { update } from '../../src/shm/state-word.ts';
import { spawnWorker, workerEntry } from '../../src/spawn-worker.ts';
import { measureTimer } from '../env.ts';
import { summarise } from '../stats.ts';
import {
  type CaseDef,
  findMeasurement,
  type Measurement,
  type Profile,
  type SuiteDef,
  type TargetResult,
  targetNotRun,
} from '../suite.ts';
import type { ContendedWork } from '../workers/contended.worker.ts';

const SUITE = 'primitives';
// Operations per timed call, chosen so one call lasts a few hundred µs here: far above the
// timer's resolution (the report flags samples shorter than 1000× it).
const BATCH = 20_000;
const LOAD_BATCH = 100_000;
const PLAIN_BATCH = 1_000_000;
const ASYNC_BATCH = 5_000;
const PEER_BATCH = 500;

/** Keeps results observable so V8 cannot drop the measured work. */
export let sink = 0;

interface AsyncMutexLike {
  acquire(): Promise<() => void>;
}

async function loadAsyncMutex(): Promise<AsyncMutexLike | null> {
  try {
    const mod = (await import('async-mutex')) as { Mutex: new () => AsyncMutexLike };
    return new mod.Mutex();
  } catch {
    return null;
  }
}

async function runUncontended(profile: Profile): Promise<Measurement[]> {
  const scale = profile.scale ?? 1;
  const timeMs = Math.max(10, (profile.name === 'full' ? 600 : 150) * scale);
  const timer = measureTimer();
  const view = new Int32Array(new SharedArrayBuffer(64));
  const mutex = Mutex.create();
  const seqlock = Seqlock.create(6);
  const out = new Int32Array(6);
  const values = [1, 2, 3, 4, 5, 6];
  const spsc = SharedChannel.create({ capacity: 1024, messageWords: 1, mode: 'spsc' });
  const mpsc = SharedChannel.create({ capacity: 1024, messageWords: 1, mode: 'mpsc' });
  const message = [7];
  const received = new Int32Array(1);
  const asyncMutex = await loadAsyncMutex();

  const bench = new Bench({
    time: timeMs,
    warmupTime: Math.min(100, timeMs / 2),
    // Shrunk runs (tests) need only a few batches per task; tinybench's minimum is 64.
    ...(scale < 1 ? { iterations: 8, warmupIterations: 2 } : {}),
    retainSamples: true,
  });
  const batches = new Map<string, number>();
  const add = (name: string, batch: number, fn: () => unknown) => {
    batches.set(name, batch);
    bench.add(name, fn);
  };
  add('Atomics.load', LOAD_BATCH, () => {
    let acc = 0;
    for (let i = 0; i < LOAD_BATCH; i++) acc += Atomics.load(view, i & 7);
    sink ^= acc;
  });
  add('plain Int32Array read', PLAIN_BATCH, () => {
    let acc = 0;
    for (let i = 0; i < PLAIN_BATCH; i++) acc += view[i & 7] as number;
    sink ^= acc;
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
  if (asyncMutex) {
    add('async-mutex acquire+release', PEER_BATCH, async () => {
      for (let i = 0; i < PEER_BATCH; i++) {
        const release = await asyncMutex.acquire();
        release();
      }
    });
  }
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
  const measurements: Measurement[] = bench.tasks.map((task) => {
    const result = task.result as { latency?: { samples?: number[] } } | undefined;
    const batch = batches.get(task.name) ?? 1;
    const rawMs = result?.latency?.samples ?? [];
    const s = summarise(rawMs.map((ms) => (ms * 1e6) / batch));
    const sampleUs = summarise(rawMs).median * 1e3;
    const m: Measurement = {
      suite: SUITE,
      case: 'uncontended',
      metric: 'time per op',
      design: task.name,
      threads: 1,
      workload: 'uncontended',
      unit: 'ns/op',
      better: 'lower',
      ...s,
      extra: { batch, sampleUs: Math.round(sampleUs * 10) / 10 },
    };
    if (sampleUs * 1e3 < 1000 * timer.resolutionNs) {
      m.extra!.warning = `median sample ${sampleUs.toFixed(1)} µs is < 1000× the timer resolution (${timer.resolutionNs.toFixed(0)} ns)`;
    }
    return m;
  });
  if (!asyncMutex) {
    measurements.push({
      suite: SUITE,
      case: 'uncontended',
      metric: 'time per op',
      design: 'async-mutex acquire+release',
      threads: 1,
      workload: 'uncontended',
      unit: 'ns/op',
      better: 'lower',
      median: Number.NaN,
      ciLow: Number.NaN,
      ciHigh: Number.NaN,
      samples: 0,
      extra: { status: 'not installed', warning: 'peer async-mutex not installed' },
    });
  }
  return measurements;
}

const CONTENDED_ENTRY = workerEntry(import.meta.url, '../workers/contended.worker');

const CONTENDED: {
  id: string;
  design: string;
  work: ContendedWork['case'];
  ops: number;
}[] = [
  { id: 'contended-mutex', design: 'Mutex lock+increment+unlock', work: 'mutex', ops: 200_000 },
  { id: 'contended-update', design: 'update() CAS increment', work: 'update', ops: 500_000 },
  {
    id: 'contended-seqlock',
    design: 'Seqlock read (6 fields) beside a busy writer',
    work: 'seqlock',
    ops: 1_000_000,
  },
  {
    id: 'contended-spsc',
    design: 'SharedChannel spsc one-way message',
    work: 'channel',
    ops: 1_000_000,
  },
  {
    id: 'contended-ping-pong',
    design: 'SharedChannel spsc ping-pong round trip',
    work: 'ping-pong',
    ops: 100_000,
  },
];

/** One sample: two fresh workers on a spin barrier; ns per counted op over the slower thread. */
async function contendedSample(work: ContendedWork['case'], ops: number): Promise<number> {
  const shared = new Int32Array(new SharedArrayBuffer(16));
  const channels: [SharedChannelHandle, SharedChannelHandle] = [
    SharedChannel.create({ capacity: 1024 }).handle,
    SharedChannel.create({ capacity: 1024 }).handle,
  ];
  const base = {
    case: work,
    ops,
    shared,
    mutex: Mutex.create().handle,
    seqlock: Seqlock.create(6).handle,
    channels,
  };
  const workers = [0, 1].map((role) => spawnWorker(CONTENDED_ENTRY, { ...base, role }));
  try {
    const replies = await Promise.all(
      workers.map(
        (w) =>
          new Promise<{ ns: number; counted: number }>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    const counted = replies.reduce((n, r) => n + r.counted, 0);
    return Math.max(...replies.map((r) => r.ns)) / counted;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function contendedCase(c: (typeof CONTENDED)[number]): CaseDef {
  return {
    id: c.id,
    title: `2 threads contended: ${c.design}`,
    estimateMs: 2_500,
    async run(profile) {
      const scale = (profile.scale ?? 1) * (profile.name === 'full' ? 1 : 0.25);
      const ops = Math.max(1_000, Math.round(c.ops * scale));
      const shrunk = (profile.scale ?? 1) < 1;
      const samples = profile.name === 'full' ? 9 : shrunk ? 2 : 5;
      // Warm-up run, discarded (skipped by shrunk test runs, which check plumbing, not numbers).
      if (!shrunk) await contendedSample(c.work, Math.max(1_000, Math.round(ops / 4)));
      const values: number[] = [];
      for (let i = 0; i < samples; i++) values.push(await contendedSample(c.work, ops));
      return [
        {
          suite: SUITE,
          case: c.id,
          metric: 'time per op',
          design: c.design,
          threads: 2,
          workload: '2 threads contended',
          unit: 'ns/op',
          better: 'lower',
          ...summarise(values),
          extra: { opsPerSample: ops },
        },
      ];
    },
  };
}

function snapshotTarget(measurements: readonly Measurement[]): TargetResult {
  const description =
    'consistent snapshot read (Seqlock, 6 fields), 1 thread: ≤ 4× one Atomics.load';
  const where = { suite: SUITE, case: 'uncontended' } as const;
  const snap = findMeasurement(measurements, { ...where, design: 'Seqlock read (6 fields)' });
  const load = findMeasurement(measurements, { ...where, design: 'Atomics.load' });
  if (!snap || !load || !(load.median > 0)) {
    return targetNotRun('snapshot-vs-load', description);
  }
  const ratio = snap.median / load.median;
  const met = ratio <= 4;
  return {
    id: 'snapshot-vs-load',
    description,
    value: ratio,
    shown: `${ratio.toFixed(1)}× (${snap.median.toFixed(1)} ns vs ${load.median.toFixed(2)} ns)`,
    met,
    ...(met
      ? {}
      : {
          note: 'a consistent read of 6 fields is 8 Atomics.load calls (sequence, 6 fields, sequence again: every field access is atomic, see src/shm/seqlock.ts), so about 8× one load is its floor in this design',
        }),
  };
}

export const suite: SuiteDef = {
  name: SUITE,
  description:
    'Uncontended cost of each primitive next to a plain read and one Atomics.load (same run), async-mutex as the peer of lockAsync; two-thread contended costs.',
  cases(): CaseDef[] {
    return [
      {
        id: 'uncontended',
        title: '1 thread uncontended: every primitive beside Atomics.load and a plain read',
        estimateMs: 4_000,
        run: runUncontended,
      },
      ...CONTENDED.map(contendedCase),
    ];
  },
  targets(measurements) {
    return [snapshotTarget(measurements)];
  },
};
