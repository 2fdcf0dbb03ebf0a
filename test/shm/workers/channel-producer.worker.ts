// One producer of the channel stress tests: sends its seq 0 .. count − 1 (see fillMessage) through
// a channel variant with blocking send(), then reports how many it sent. A send that waits longer
// than stallMs ends the run with the error's code instead of hanging the test.
import { parentPort, workerData } from 'node:worker_threads';
import type { SharedChannelHandle } from '../../../src/shm/channel.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';
import { type ChannelVariant, channelVariants, fillMessage } from '../../planted/channels.ts';

const { variant, handle, messageWords, producer, count, barrier, parties, stallMs } =
  workerData as {
    variant: ChannelVariant;
    handle: SharedChannelHandle;
    messageWords: number;
    producer: number;
    count: number;
    barrier: Int32Array;
    parties: number;
    stallMs: number;
  };

const channel = channelVariants[variant](handle);
const message = new Int32Array(messageWords);
arriveAndWait(barrier, parties);
let sent = 0;
try {
  for (; sent < count; sent++) {
    channel.send(fillMessage(message, producer, sent), { timeoutMs: stallMs });
  }
  parentPort!.postMessage({ sent });
} catch (error) {
  const e = error as { code?: string; message: string };
  parentPort!.postMessage({ sent, code: e.code, error: e.message });
}
