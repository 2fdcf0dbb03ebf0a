// One side of a two-thread frame-ring test: sends or checks the seeded traffic of
// test/shm/frame-ring-data.ts through FrameSender / FrameReceiver, then posts its result.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameReceiver, FrameSender } from '../../../src/io/frames.ts';
import { FrameRing, type FrameRingHandle } from '../../../src/shm/frame-ring.ts';
import { lengths, message, mismatch } from '../frame-ring-data.ts';

const { role, handle, seed, count, maxBytes } = workerData as {
  role: 'send' | 'receive';
  handle: FrameRingHandle;
  seed: number;
  count: number;
  maxBytes: number;
};
const ring = FrameRing.from(handle);
// A pending Atomics.waitAsync does not keep a thread alive; a listening port does.
parentPort?.on('message', () => {});
const sizes = lengths(seed, count, maxBytes);

if (role === 'send') {
  const sender = new FrameSender(ring, {
    onDrained: () => {
      if (next >= count) parentPort?.postMessage({ sent: count });
    },
  });
  let next = 0;
  // Send in bursts of random length, yielding to the event loop in between.
  const burst = () => {
    const stop = Math.min(count, next + 1 + (next % 97));
    for (; next < stop; next++)
      sender.sendBytes(1, next % 7, next, message(next, sizes[next] as number));
    if (next < count) setImmediate(burst);
    else if (sender.backlogBytes === 0) {
      sender.flush();
      parentPort?.postMessage({ sent: count });
    }
  };
  burst();
} else {
  let expected = 0;
  let problem: string | undefined;
  const receiver = new FrameReceiver(ring, (kind, slot, generation, data, start, end) => {
    if (problem !== undefined) return;
    if (kind !== 1 || slot !== expected % 7 || generation !== expected)
      problem = `message ${expected}: kind ${kind} slot ${slot} generation ${generation}`;
    else problem = mismatch(expected, sizes[expected] as number, data, start, end);
    expected++;
    if (expected === count || problem !== undefined) {
      parentPort?.postMessage({ received: expected, problem });
      ring.close();
    }
  });
  void receiver.run();
}
