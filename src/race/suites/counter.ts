/**
 * Built-in race suite: atomic read-modify-write through state-word `update()` (a CAS loop), and
 * the planted lost-update counter. Three styles of test over the same operation:
 *
 * - counter/increments    jcstress style: two threads increment once; the arbiter reads the total.
 * - counter/invariant     defineStressTest: three threads increment many times; check the total.
 * - counter/linearizable  defineLinearizabilityTest: the increments' returned values must fit a
 *                         sequential counter.
 */
import { update } from '../../shm/state-word.ts';
import {
  type ActorContext,
  defineLinearizabilityTest,
  defineRaceTest,
  defineStressTest,
  type RaceTest,
} from '../define.ts';
import { counterModel } from '../linearizability.ts';
import { type Variant, variantFields } from '../planted/index.ts';
import { lostUpdate } from '../planted/others.ts';

type Updater = (view: Int32Array, index: number, fn: (current: number) => number) => number;

interface State {
  view: Int32Array;
}

const setup = (): State => ({ view: new Int32Array(new SharedArrayBuffer(4)) });
const plus1 = (x: number) => x + 1;

function suite(variant: Variant, updater: Updater): RaceTest<State>[] {
  const increment = (s: State) => {
    updater(s.view, 0, plus1);
  };
  const OPS = { stress: 200, explore: 2 };
  return [
    defineRaceTest<State>({
      ...variantFields('counter/increments', variant),
      description: 'two threads increment a shared word once each',
      setup,
      actors: [increment, increment],
      arbiter: (s) => Atomics.load(s.view, 0),
      outcomes: [
        { id: '2', expect: 'acceptable', desc: 'both increments landed' },
        { id: '1', expect: 'forbidden', desc: 'an increment was lost' },
      ],
    }),
    defineStressTest<State>({
      ...variantFields('counter/invariant', variant),
      description: 'three threads increment many times; the total must be exact',
      threads: 3,
      ops: OPS,
      setup,
      op: (s) => {
        updater(s.view, 0, plus1);
      },
      check: (s, ctx) => {
        const expected = 3 * (ctx.mode === 'explore' ? OPS.explore : OPS.stress);
        const got = Atomics.load(s.view, 0);
        return got === expected || `${expected - got} of ${expected} increments lost`;
      },
    }),
    defineLinearizabilityTest<State, number>({
      ...variantFields('counter/linearizable', variant),
      description: 'increments return the value they replaced; the history must fit a counter',
      setup,
      model: counterModel,
      actors: [0, 1].map(() => (s: State, ctx: ActorContext) => {
        ctx.op('inc', undefined, () => updater(s.view, 0, plus1));
        ctx.op('inc', undefined, () => updater(s.view, 0, plus1));
      }),
    }),
  ];
}

export default [...suite('correct', update), ...suite('lost-update-counter', lostUpdate)];
