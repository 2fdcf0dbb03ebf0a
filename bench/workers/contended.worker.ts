// One thread of a two-thread contended benchmark case. Waits on a spin barrier so both threads
// start together, runs its role, and posts the nanoseconds it took.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedChannel, type SharedChannelHandle } from '../../src/shm/channel.ts';
import { Mutex, type MutexHandle } from '../../src/shm/mutex.ts';
import { Seqlock, type SeqlockHandle } from '../../src/shm/seqlock.ts';
import { update } from '../../src/shm/state-word.ts';

export interface ContendedWork {
  case: 'mutex' | 'update' | 'seqlock' | 'channel' | 'ping-pong';
  role: 0 | 1;
  ops: number;
  shared: Int32Array; // [0] barrier, [1] stop flag, [2] counter
  mutex: MutexHandle;
  seqlock: SeqlockHandle;
  channels: [SharedChannelHandle, SharedChannelHandle];
}

const work = workerData as ContendedWork;
const { shared, ops, role } = work;

function spinBarrier(parties: number): void {
  Atomics.add(shared, 0, 1);
  while (Atomics.load(shared, 0) < parties) {}
}

function run(): number {
  switch (work.case) {
    case 'mutex': {
      const mutex = Mutex.from(work.mutex);
      for (let i = 0; i < ops; i++) {
        mutex.lock();
        shared[2] = (shared[2] as number) + 1;
        mutex.unlock();
      }
      return ops;
    }
    case 'update':
      for (let i = 0; i < ops; i++) update(shared, 2, (w) => w + 1);
      return ops;
    case 'seqlock': {
      const seqlock = Seqlock.from(work.seqlock);
      if (role === 1) {
        const values = [0, 0, 0, 0, 0, 0];
        for (let v = 0; Atomics.load(shared, 1) === 0; v++) {
          values.fill(v);
          seqlock.write(values);
        }
        return 0;
      }
      const out = new Int32Array(6);
      for (let i = 0; i < ops; i++) seqlock.read(out);
      Atomics.store(shared, 1, 1);
      return ops;
    }
    case 'channel': {
      const channel = SharedChannel.from(work.channels[0]);
      const message = new Int32Array(1);
      if (role === 0) {
        for (let i = 0; i < ops; i++) {
          message[0] = i;
          channel.send(message);
        }
        return ops;
      }
      for (let i = 0; i < ops; i++) channel.receive(message);
      return 0;
    }
    case 'ping-pong': {
      const there = SharedChannel.from(work.channels[role]);
      const back = SharedChannel.from(work.channels[1 - role] as SharedChannelHandle);
      const message = new Int32Array(1);
      for (let i = 0; i < ops; i++) {
        if (role === 0) {
          there.send(message);
          back.receive(message);
        } else {
          back.receive(message);
          there.send(message);
        }
      }
      return role === 0 ? ops : 0;
    }
  }
}

spinBarrier(2);
const start = process.hrtime.bigint();
const counted = run();
parentPort!.postMessage({ ns: Number(process.hrtime.bigint() - start), counted });
