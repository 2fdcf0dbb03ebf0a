// One side of the SharedChannel batch stress test. The producer sends seq 0 .. count − 1 (each
// message: seq, ~seq, seq * 7) in batches of random size, mixing in single trySend calls, spinning
// on 'full', then closes the channel. The consumer receives in batches of random size (and some
// single tryReceive calls) until the channel reports closed-and-drained, checking order and that
// no message is torn, and reports what it saw.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedChannel, type SharedChannelHandle } from '../../../src/shm/channel.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';

const { role, handle, count, barrier, seed, stallMs } = workerData as {
  role: 'producer' | 'consumer';
  handle: SharedChannelHandle;
  count: number;
  barrier: Int32Array;
  seed: number;
  stallMs: number;
};

const WORDS = 3;
const MAX_BATCH = 40;
let state = seed | 1;
const random = (n: number) => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % n;
};

const channel = SharedChannel.from(handle);
const buffer = new Int32Array(MAX_BATCH * WORDS);
arriveAndWait(barrier, 2);
let lastProgress = performance.now();
const stalled = () => performance.now() - lastProgress > stallMs;

if (role === 'producer') {
  let seq = 0;
  let batches = 0;
  while (seq < count && !stalled()) {
    const n = Math.min(count - seq, 1 + random(MAX_BATCH));
    for (let m = 0; m < n; m++) {
      buffer[m * WORDS] = seq + m;
      buffer[m * WORDS + 1] = ~(seq + m);
      buffer[m * WORDS + 2] = Math.imul(seq + m, 7);
    }
    let sent: number;
    if (n === 1 && random(2) === 0)
      sent = channel.trySend(buffer.subarray(0, WORDS)) === 'sent' ? 1 : 0;
    else sent = channel.trySendMany(buffer, n);
    if (sent < 0) throw new Error('channel closed under the producer');
    if (sent > 0) {
      seq += sent;
      batches++;
      lastProgress = performance.now();
    }
  }
  channel.close();
  parentPort!.postMessage({ sent: seq, batches });
} else {
  let expected = 0;
  let torn = 0;
  let outOfOrder = 0;
  let batches = 0;
  let maxBatch = 0;
  for (;;) {
    if (stalled()) break;
    const max = 1 + random(MAX_BATCH);
    let got: number;
    if (max === 1 && random(2) === 0) {
      const r = channel.tryReceive(buffer);
      got = r === 'received' ? 1 : r === 'closed' ? -1 : 0;
    } else got = channel.tryReceiveMany(buffer, max);
    if (got < 0) break;
    if (got === 0) continue;
    lastProgress = performance.now();
    batches++;
    maxBatch = Math.max(maxBatch, got);
    for (let m = 0; m < got; m++) {
      const seq = buffer[m * WORDS] as number;
      if (buffer[m * WORDS + 1] !== ~seq || buffer[m * WORDS + 2] !== Math.imul(seq, 7)) torn++;
      if (seq !== expected) outOfOrder++;
      expected = seq + 1;
    }
  }
  parentPort!.postMessage({ received: expected, torn, outOfOrder, batches, maxBatch });
}
