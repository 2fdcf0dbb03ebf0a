// N of these bump two fields of one shared state word through an updater variant, each update
// advancing `generation` by 1 and `counter` by 1 (mod 2^8) together and stamping `status` with the
// thread's id. With a correct update() the final generation is exact; a broken one loses updates.
// Every word fn sees must satisfy counter === generation mod 2^8: a word that does not is torn.
import { parentPort, workerData } from 'node:worker_threads';
import { defineStateWord } from '../../../src/shm/state-word.ts';
import { arriveAndWait } from '../../helpers/barrier.ts';
import { type StateWordVariant, stateWordUpdaters } from '../../planted/state-words.ts';

const { variant, id, word, index, widths, barrier, parties, iterations } = workerData as {
  variant: StateWordVariant;
  id: number;
  word: Int32Array;
  index: number;
  widths: { status: number; generation: number; counter: number };
  barrier: Int32Array;
  parties: number;
  iterations: number;
};
const layout = defineStateWord(widths);
const counterMask = layout.fields.counter.max;
const updater = stateWordUpdaters[variant];
let calls = 0;
let torn = 0;
const bump = (current: number): number => {
  calls++;
  const generation = layout.get(current, 'generation');
  const counter = layout.get(current, 'counter');
  if ((generation & counterMask) !== counter) torn++;
  return layout.pack({
    status: id,
    generation: generation + 1,
    counter: (counter + 1) & counterMask,
  });
};

arriveAndWait(barrier, parties);
for (let i = 0; i < iterations; i++) updater(word, index, bump);
parentPort!.postMessage({ updates: iterations, calls, torn });
