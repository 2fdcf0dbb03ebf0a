/**
 * Built-in race suite: atomvisor's Seqlock, and the planted reader that never re-checks.
 *
 * - seqlock/snapshot   a writer publishes (1, 1) then (2, 2) while a reader takes a snapshot:
 *                      the snapshot must be one the writer left, never a mix.
 * - seqlock/writers    two writers publish (1, 1) and (2, 2): writers exclude each other.
 * - seqlock/writer-death  the same with an actor thread killed mid-operation (faults): a writer
 *                      that dies inside its write is recoverable, and the record works again.
 */
import { Seqlock, type SeqlockHandle } from '../../shm/seqlock.ts';
import { defineRaceTest, type RaceTest } from '../define.ts';
import { type Variant, variantFields } from '../planted/index.ts';
import { readWithoutRetry } from '../planted/others.ts';

interface State {
  record: SeqlockHandle;
}

const setup = (): State => ({ record: Seqlock.create(2).handle });

type Reader = (handle: SeqlockHandle, out: Int32Array) => Int32Array;
const realRead: Reader = (handle, out) => Seqlock.from(handle).read(out);

function snapshot(variant: Variant, read: Reader): RaceTest<State> {
  return defineRaceTest<State>({
    ...variantFields('seqlock/snapshot', variant),
    description: 'a reader snapshots two fields while a writer publishes (1, 1) then (2, 2)',
    setup,
    actors: [
      (s) => {
        const w = Seqlock.from(s.record);
        w.write([1, 1]);
        w.write([2, 2]);
      },
      (s) => {
        const out = read(s.record, new Int32Array(2));
        return `${out[0]}:${out[1]}`;
      },
    ],
    outcomes: [
      { id: '0:0', expect: 'acceptable', desc: 'read before the writes' },
      { id: '1:1', expect: 'acceptable', desc: 'read between the writes' },
      { id: '2:2', expect: 'acceptable', desc: 'read after the writes' },
      { id: /\d+:\d+/, expect: 'forbidden', desc: 'a torn snapshot: fields from different writes' },
    ],
  });
}

const writers = defineRaceTest<State>({
  name: 'seqlock/writers',
  variant: 'correct',
  description: 'two writers publish (1, 1) and (2, 2): the record ends as one of them',
  setup,
  actors: [
    (s) => Seqlock.from(s.record).write([1, 1]),
    (s) => Seqlock.from(s.record).write([2, 2]),
  ],
  arbiter: (s) => {
    const out = Seqlock.from(s.record).read(new Int32Array(2));
    return `${out[0]}:${out[1]}`;
  },
  outcomes: [
    { id: '1:1', expect: 'acceptable' },
    { id: '2:2', expect: 'acceptable' },
    { id: /\d+:\d+/, expect: 'forbidden', desc: 'the writers interleaved' },
  ],
});

/** Write (v, v), giving up after 50 ms (a dead writer holds the record until recovered). */
function writeOrGiveUp(value: number) {
  return (s: State) => {
    try {
      Seqlock.from(s.record).write([value, value], 0, { timeoutMs: 50 });
      return 'wrote';
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_ATOMVISOR_TIMEOUT') return 'timeout';
      throw error;
    }
  };
}

const writerDeath = defineRaceTest<State>({
  name: 'seqlock/writer-death',
  variant: 'correct',
  description:
    'two writers publish (1, 1) and (2, 2) with a 50 ms limit; with kill faults one may die inside its write: recoverFromDeadWriter must make the record readable and writable again',
  faults: { kill: 0.3 },
  setup,
  actors: [writeOrGiveUp(1), writeOrGiveUp(2)],
  arbiter: (s, ctx) => {
    const lock = Seqlock.from(s.record);
    // Only a killed actor can have left a write open: recovery is for known-dead writers.
    const recovered = ctx.killed.length > 0 && lock.recoverFromDeadWriter();
    if ((lock.sequence & 1) !== 0) return 'stuck';
    lock.write([7, 7]);
    const out = lock.read(new Int32Array(2));
    return `${recovered ? 'recovered' : 'clean'}:${out[0]}:${out[1]}`;
  },
  outcomes: [
    { id: 'wrote,wrote,clean:7:7', expect: 'acceptable' },
    {
      id: /.*stuck/,
      expect: 'forbidden',
      desc: 'the record stayed held (a dead writer not recovered)',
    },
    {
      id: /.*killed.*:7:7/,
      expect: 'forbidden',
      underFaults: 'acceptable',
      desc: 'a writer was killed; its write was closed (or it died outside one) and the record works',
    },
    {
      id: /.*timeout.*/,
      expect: 'interesting',
      desc: 'gave up after 50 ms although the other writer was alive',
    },
  ],
});

export default [
  snapshot('correct', realRead),
  snapshot('seqlock-reader-without-retry', readWithoutRetry),
  writers,
  writerDeath,
];
