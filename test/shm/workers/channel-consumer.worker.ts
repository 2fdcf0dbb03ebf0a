// The consumer of the channel stress tests: receives with blocking receive() until the channel is
// closed and drained (null), checking every message (StreamChecker), and reports. It stops at the
// first violation (the test then cuts the producers off), and reports a stall instead of hanging
// when no message comes for stallMs.
import { parentPort, workerData } from 'node:worker_threads';
import type { SharedChannelHandle } from '../../../src/shm/channel.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';
import { type ChannelVariant, channelVariants, StreamChecker } from '../../planted/channels.ts';

const { variant, handle, messageWords, producers, perProducer, barrier, parties, stallMs } =
  workerData as {
    variant: ChannelVariant;
    handle: SharedChannelHandle;
    messageWords: number;
    producers: number;
    perProducer: number;
    barrier: Int32Array;
    parties: number;
    stallMs: number;
  };

const channel = channelVariants[variant](handle);
const checker = new StreamChecker(producers, perProducer);
const out = new Int32Array(messageWords);
arriveAndWait(barrier, parties);
try {
  for (;;) {
    const message = channel.receive(out, { timeoutMs: stallMs });
    if (message === null) {
      checker.finish();
      break;
    }
    if (!checker.check(message)) break;
  }
} catch (error) {
  if ((error as { code?: string }).code !== 'ERR_ATOMVISOR_TIMEOUT') throw error;
  checker.stall(`no message for ${stallMs} ms after ${checker.received}`);
}
parentPort!.postMessage(checker.report());
