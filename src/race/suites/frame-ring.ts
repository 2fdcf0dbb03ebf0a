/**
 * Built-in race suite: the FrameRing of the coordinator's data plane (src/shm/frame-ring.ts), and
 * the planted producer that publishes its tail before it writes the frame.
 *
 * - frame-ring/handoff   a producer writes three frames of 300, 500 and 200 bytes through a
 *                        1 KiB ring (the third wraps around, over space the consumer freed), the
 *                        consumer reads them: each with its slot, generation and every byte
 *                        right, in order, and no PAD frame or stale bytes seen as a frame.
 */
import { FrameRing, type FrameRingHandle } from '../../shm/frame-ring.ts';
import { defineRaceTest, type RaceTest } from '../define.ts';
import { type Variant, variantFields } from '../planted/index.ts';
import { type FrameProducer, tailBeforeBytesFrameRing } from '../planted/others.ts';

interface State {
  ring: FrameRingHandle;
}

const SIZES = [300, 500, 200] as const;

/** Frame m's payload: every byte derived from m and its position. */
function payload(m: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (m * 37 + i) & 0xff;
  return b;
}

type Open = (handle: FrameRingHandle) => FrameProducer;
const realRing: Open = (handle) => FrameRing.from(handle);

function handoff(variant: Variant, open: Open): RaceTest<State> {
  return defineRaceTest<State>({
    ...variantFields('frame-ring/handoff', variant),
    description: 'three frames (300, 500, 200 bytes) through a 1 KiB ring, the last one wrapping',
    setup: () => ({ ring: FrameRing.create(1024).handle }),
    actors: [
      (s) => {
        const ring = open(s.ring);
        SIZES.forEach((size, m) => {
          while (!ring.tryWrite(1, m + 1, 100 + m, false, payload(m + 1, size))) {}
          ring.publish();
        });
      },
      (s) => {
        const ring = FrameRing.from(s.ring);
        const got: string[] = [];
        while (got.length < SIZES.length) {
          ring.read((kind, slot, generation, more, data, start, end) => {
            const expected = payload(slot, end - start);
            let same = kind === 1 && !more && generation === 99 + slot;
            for (let i = 0; same && i < expected.length; i++)
              same = data[start + i] === expected[i];
            got.push(`${slot}:${end - start}${same ? '' : ':torn'}`);
          });
        }
        return got.join(' ');
      },
    ],
    outcomes: [
      { id: '1:300 2:500 3:200', expect: 'acceptable', desc: 'every frame, whole, in order' },
      { id: /.*/, expect: 'forbidden', desc: 'a frame was lost, torn, stale or reordered' },
    ],
  });
}

export default [
  handoff('correct', realRing),
  handoff('frame-ring-index-before-bytes', tailBeforeBytesFrameRing),
];
