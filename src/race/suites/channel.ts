/**
 * Built-in race suite: atomvisor's SharedChannel, and the planted channel that publishes its write
 * index before the message.
 *
 * - channel/spsc-handoff        a producer sends (1, 1), (2, 2), (3, 3) through a 2-slot ring, a
 *                               consumer receives three messages: all of them, whole, in order.
 * - channel/spsc-linearizable   trySend / tryReceive on a 2-slot SPSC ring must behave like a
 *                               bounded FIFO queue (linearizability check against fifoModel).
 * - channel/spsc-close          a producer sends three messages while another thread closes the
 *                               ring: every message a send reported as sent is received, whole,
 *                               and the consumer then sees 'closed' (the spsc close is one CAS of
 *                               the tail's closed bit against the producer's publishing CAS).
 * - channel/mpsc-linearizable   the same with two producers on an MPSC ring. Vyukov's ring is not
 *                               strictly linearizable: a tryReceive can report 'empty' while a
 *                               send that claimed an earlier slot has not published yet, even
 *                               though a later send already returned 'sent'. Graded 'interesting'.
 */
import { SharedChannel, type SharedChannelHandle } from '../../shm/channel.ts';
import {
  type ActorContext,
  defineLinearizabilityTest,
  defineRaceTest,
  type RaceTest,
} from '../define.ts';
import { fifoModel } from '../linearizability.ts';
import { type Variant, variantFields } from '../planted/index.ts';
import { type ChannelEnds, indexBeforeDataChannel } from '../planted/others.ts';

interface State {
  channel: SharedChannelHandle;
}

const spsc = (): State => ({
  channel: SharedChannel.create({ capacity: 2, messageWords: 2 }).handle,
});

type Open = (handle: SharedChannelHandle) => ChannelEnds;
const realChannel: Open = (handle) => SharedChannel.from(handle);

function handoff(variant: Variant, open: Open): RaceTest<State> {
  return defineRaceTest<State>({
    ...variantFields('channel/spsc-handoff', variant),
    description: 'three two-word messages through a two-slot ring',
    setup: spsc,
    actors: [
      (s) => {
        const ch = open(s.channel);
        for (const m of [1, 2, 3]) while (ch.trySend([m, m]) !== 'sent') {}
      },
      (s) => {
        const ch = open(s.channel);
        const out = new Int32Array(2);
        const got: number[] = [];
        while (got.length < 6) if (ch.tryReceive(out) === 'received') got.push(out[0]!, out[1]!);
        return got.join(' ');
      },
    ],
    outcomes: [
      { id: '1 1 2 2 3 3', expect: 'acceptable', desc: 'every message, whole, in order' },
      { id: /.*/, expect: 'forbidden', desc: 'a message was lost, torn, stale or reordered' },
    ],
  });
}

const spscLinearizable = defineLinearizabilityTest<State, readonly unknown[]>({
  name: 'channel/spsc-linearizable',
  variant: 'correct',
  description: 'trySend 1, 2, 3 against tryReceive × 3 on a two-slot ring: a bounded FIFO queue',
  setup: spsc,
  model: fifoModel(2),
  actors: [
    (s, ctx) => {
      const ch = SharedChannel.from(s.channel);
      for (const v of [1, 2, 3]) ctx.op('send', v, () => ch.trySend([v, v]));
    },
    (s, ctx) => {
      const ch = SharedChannel.from(s.channel);
      const out = new Int32Array(2);
      for (let i = 0; i < 3; i++) {
        ctx.op('receive', undefined, () => (ch.tryReceive(out) === 'received' ? out[0] : 'empty'));
      }
    },
  ],
});

const mpscLinearizable = defineLinearizabilityTest<State, readonly unknown[]>({
  name: 'channel/mpsc-linearizable',
  variant: 'correct',
  description: 'two producers trySend, one consumer tryReceive, on a two-slot MPSC ring',
  setup: () => ({
    channel: SharedChannel.create({ capacity: 2, messageWords: 1, mode: 'mpsc' }).handle,
  }),
  model: fifoModel(2),
  actors: [
    ...[10, 20].map((base) => (s: State, ctx: ActorContext) => {
      const ch = SharedChannel.from(s.channel);
      for (const v of [base + 1, base + 2]) ctx.op('send', v, () => ch.trySend([v]));
    }),
    (s: State, ctx: ActorContext) => {
      const ch = SharedChannel.from(s.channel);
      const out = new Int32Array(1);
      for (let i = 0; i < 3; i++) {
        ctx.op('receive', undefined, () => (ch.tryReceive(out) === 'received' ? out[0] : 'empty'));
      }
    },
  ],
  outcomes: [
    { id: 'linearizable', expect: 'acceptable' },
    {
      id: 'not linearizable',
      expect: 'interesting',
      desc: "Vyukov's ring: 'empty' while an earlier-claimed send has not published yet",
    },
    { id: 'unknown', expect: 'interesting' },
  ],
});

const spscClose = defineRaceTest<State>({
  name: 'channel/spsc-close',
  variant: 'correct',
  description: 'three sends racing a close() from a third thread: no sent message is lost',
  setup: spsc,
  actors: [
    (s) => {
      const ch = SharedChannel.from(s.channel);
      let sent = 0;
      for (const m of [1, 2, 3]) {
        let r = ch.trySend([m, m]);
        while (r === 'full') r = ch.trySend([m, m]);
        if (r === 'closed') break;
        sent++;
      }
      return sent;
    },
    (s) => {
      const ch = SharedChannel.from(s.channel);
      const out = new Int32Array(2);
      const got: number[] = [];
      for (;;) {
        const r = ch.tryReceive(out);
        if (r === 'closed') return got;
        if (r === 'received') got.push(out[0] === out[1] ? out[0]! : -1);
      }
    },
    (s) => {
      SharedChannel.from(s.channel).close();
    },
  ],
  arbiter: (_s, ctx) => {
    const [sent, got] = ctx.results as [number, number[]];
    const expected = [1, 2, 3].slice(0, sent);
    return JSON.stringify(got) === JSON.stringify(expected)
      ? 'every sent message received'
      : `sent ${sent}, received ${JSON.stringify(got)}`;
  },
  outcomes: [
    // The id is the actors' results (sent count, received list), then the arbiter's verdict.
    { id: /.*,every sent message received/, expect: 'acceptable' },
    {
      id: /.*/,
      expect: 'forbidden',
      desc: 'a sent message was lost or torn, or one never sent arrived',
    },
  ],
});

export default [
  handoff('correct', realChannel),
  spscClose,
  handoff('channel-index-before-data', indexBeforeDataChannel),
  spscLinearizable,
  mpscLinearizable,
];
