/**
 * Built-in race suite: atomvisor's Seqlock, and the planted reader that never re-checks.
 *
 * - seqlock/snapshot   a writer publishes (1, 1) then (2, 2) while a reader takes a snapshot:
 *                      the snapshot must be one the writer left, never a mix.
 * - seqlock/writers    two writers publish (1, 1) and (2, 2): writers exclude each other.
 */
import { Seqlock, type SeqlockHandle } from '../../shm/seqlock.ts';
import { defineRaceTest, type RaceTest } from '../define.ts';
import { PLANTED_VARIANTS } from '../planted/index.ts';
import { readWithoutRetry } from '../planted/others.ts';

interface State {
  record: SeqlockHandle;
}

const setup = (): State => ({ record: Seqlock.create(2).handle });

type Reader = (handle: SeqlockHandle, out: Int32Array) => Int32Array;
const realRead: Reader = (handle, out) => Seqlock.from(handle).read(out);

function snapshot(variant: string, read: Reader): RaceTest<State> {
  return defineRaceTest<State>({
    name: variant === 'correct' ? 'seqlock/snapshot' : `seqlock/snapshot [${variant}]`,
    variant,
    ...(variant === 'correct'
      ? {}
      : { planted: PLANTED_VARIANTS[variant as keyof typeof PLANTED_VARIANTS] }),
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

export default [
  snapshot('correct', realRead),
  snapshot('seqlock-reader-without-retry', readWithoutRetry),
  writers,
];
