/**
 * Two threads on the same primitive, each case in fresh workers, several samples. Reports the
 * per-operation cost over the window both threads share (ns per counted op, from the barrier
 * release to the slower thread's end).
 */
import type { SharedChannelHandle } from '../src/shm/channel.ts';
import { SharedChannel } from '../src/shm/channel.ts';
import { Mutex } from '../src/shm/mutex.ts';
import { Seqlock } from '../src/shm/seqlock.ts';
import { spawnWorker, workerEntry } from '../src/spawn-worker.ts';
import { type Summary, summarise } from './stats.ts';
import type { ContendedWork } from './workers/contended.worker.ts';

const ENTRY = workerEntry(import.meta.url, './workers/contended.worker');

export interface ContendedResult {
  case: string;
  unit: 'ns/op';
  threads: 2;
  summary: Summary;
}

const CASES: { name: string; work: ContendedWork['case']; ops: number; describe: string }[] = [
  {
    name: 'Mutex lock+increment+unlock, both threads',
    work: 'mutex',
    ops: 200_000,
    describe: 'ns per increment (total)',
  },
  {
    name: 'update() CAS increment, both threads',
    work: 'update',
    ops: 500_000,
    describe: 'ns per increment (total)',
  },
  {
    name: 'Seqlock read (6 fields) beside a busy writer',
    work: 'seqlock',
    ops: 1_000_000,
    describe: 'ns per read',
  },
  {
    name: 'SharedChannel spsc one-way, producer → consumer',
    work: 'channel',
    ops: 1_000_000,
    describe: 'ns per message',
  },
  {
    name: 'SharedChannel spsc ping-pong round trip',
    work: 'ping-pong',
    ops: 100_000,
    describe: 'ns per round trip',
  },
];

async function sample(work: ContendedWork['case'], ops: number): Promise<number> {
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
  const workers = [0, 1].map((role) => spawnWorker(ENTRY, { ...base, role }));
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
    const ns = Math.max(...replies.map((r) => r.ns));
    return ns / counted;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export async function runContended(options: {
  samples: number;
  scale: number;
}): Promise<ContendedResult[]> {
  const results: ContendedResult[] = [];
  for (const c of CASES) {
    const ops = Math.max(1_000, Math.round(c.ops * options.scale));
    await sample(c.work, Math.round(ops / 10)); // warm-up run, discarded
    const values: number[] = [];
    for (let i = 0; i < options.samples; i++) values.push(await sample(c.work, ops));
    results.push({
      case: `${c.name} (${c.describe})`,
      unit: 'ns/op',
      threads: 2,
      summary: summarise(values),
    });
  }
  return results;
}
