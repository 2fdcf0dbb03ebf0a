/**
 * Planted-bug counters, seqlock readers, channels and state CASes for the race harness's
 * self-check. Each has exactly one bug, named in its comment, and the surface the suites use, so a
 * suite runs the same scenario against atomvisor's primitive and against the planted variant.
 */

import type { SharedChannelHandle } from '../../shm/channel.ts';
import type { FrameRingHandle } from '../../shm/frame-ring.ts';
import {
  Channel as ChannelLayout,
  FrameRing as FrameRingLayout,
  Seqlock as SeqlockLayout,
} from '../../shm/layout.ts';
import type { SeqlockHandle } from '../../shm/seqlock.ts';
import { StateWord } from '../../table/state.ts';

/** BUG (lost-update counter): load, add, store — another thread's update in between is lost. */
export function lostUpdate(
  view: Int32Array,
  index: number,
  fn: (current: number) => number,
): number {
  const current = Atomics.load(view, index);
  Atomics.store(view, index, fn(current) | 0);
  return current;
}

/** BUG (seqlock reader without retry): checks the sequence before reading, never after. */
export function readWithoutRetry(handle: SeqlockHandle, out: Int32Array): Int32Array {
  const v = new Int32Array(
    handle.buffer,
    handle.byteOffset,
    SeqlockLayout.words(handle.fieldCount),
  );
  while ((Atomics.load(v, SeqlockLayout.SEQ) & 1) !== 0) {
    // wait for the writer to leave, as a real reader would
  }
  for (let i = 0; i < handle.fieldCount; i++) out[i] = Atomics.load(v, SeqlockLayout.FIELDS + i);
  return out; // ← should re-read SEQ and retry if it changed
}

export interface ChannelEnds {
  trySend(message: ArrayLike<number>): 'sent' | 'full' | 'closed';
  tryReceive(out: Int32Array): 'received' | 'empty' | 'closed';
}

/**
 * BUG (channel publishing the index before the data): an SPSC ring over a SharedChannel's buffer
 * whose producer advances TAIL before it writes the message, so the consumer can read the slot's
 * old contents. The payload goes through Atomics.store here, so that explore mode has a
 * scheduling point between index and data: with plain stores (as SharedChannel writes payloads)
 * the whole window lies inside one step, and only stress mode could see it.
 */
export function indexBeforeDataChannel(handle: SharedChannelHandle): ChannelEnds {
  const v = new Int32Array(handle.buffer);
  const capacity = v[ChannelLayout.CAPACITY]!;
  const words = v[ChannelLayout.MESSAGE_WORDS]!;
  let tail = 0;
  let head = 0;
  return {
    trySend(message) {
      if (((tail - Atomics.load(v, ChannelLayout.HEAD)) | 0) >= capacity) return 'full';
      const base = ChannelLayout.SLOTS + (tail & (capacity - 1)) * words;
      tail = (tail + 1) | 0;
      Atomics.store(v, ChannelLayout.TAIL, tail); // ← published here...
      for (let i = 0; i < words; i++) Atomics.store(v, base + i, message[i] ?? 0); // ...written here
      return 'sent';
    },
    tryReceive(out) {
      if (head === Atomics.load(v, ChannelLayout.TAIL)) return 'empty';
      const base = ChannelLayout.SLOTS + (head & (capacity - 1)) * words;
      for (let i = 0; i < words; i++) out[i] = Atomics.load(v, base + i);
      head = (head + 1) | 0;
      Atomics.store(v, ChannelLayout.HEAD, head);
      return 'received';
    },
  };
}

/** The producer end of a frame ring, as the frame-ring race suite drives it. */
export interface FrameProducer {
  tryWrite(
    kind: number,
    slot: number,
    generation: number,
    more: boolean,
    data: Uint8Array,
  ): boolean;
  publish(): void;
}

/**
 * BUG (frame ring publishing its tail before the bytes): a producer over a FrameRing's buffer that
 * stores TAIL first and writes the frame's header and payload after it, so the consumer can read
 * a header and bytes that are not there yet (zeros, or the frame that used the space before). Its
 * words go through Atomics.store so explore mode has scheduling points inside the window; it
 * writes whole frames at position 0 after a wrap, like the real one, and keeps no cached head.
 */
export function tailBeforeBytesFrameRing(handle: FrameRingHandle): FrameProducer {
  const v = new Int32Array(handle.buffer);
  const capacity = v[FrameRingLayout.CAPACITY]!;
  let tail = 0;
  return {
    tryWrite(kind, slot, generation, more, data) {
      const need = FrameRingLayout.FRAME_HEADER_BYTES + ((data.length + 7) & ~7);
      let pos = tail & (capacity - 1);
      const toEnd = capacity - pos;
      const total = toEnd < need ? toEnd + need : need;
      if (capacity - ((tail - Atomics.load(v, FrameRingLayout.HEAD)) | 0) < total) return false;
      let padAt = -1;
      if (toEnd < need) {
        padAt = pos;
        tail = (tail + toEnd) | 0;
        pos = 0;
      }
      tail = (tail + need) | 0;
      Atomics.store(v, FrameRingLayout.TAIL, tail); // ← published here...
      if (padAt >= 0 && toEnd >= FrameRingLayout.FRAME_HEADER_BYTES) {
        const p = (FrameRingLayout.HEADER_BYTES + padAt) >> 2;
        Atomics.store(
          v,
          p + FrameRingLayout.FRAME_LENGTH,
          toEnd - FrameRingLayout.FRAME_HEADER_BYTES,
        );
        Atomics.store(v, p + FrameRingLayout.FRAME_TYPE, FrameRingLayout.KIND_PAD);
      }
      const w = (FrameRingLayout.HEADER_BYTES + pos) >> 2; // ...written from here on
      Atomics.store(v, w + FrameRingLayout.FRAME_LENGTH, data.length);
      Atomics.store(v, w + FrameRingLayout.FRAME_SLOT, slot);
      Atomics.store(v, w + FrameRingLayout.FRAME_GENERATION, generation);
      Atomics.store(
        v,
        w + FrameRingLayout.FRAME_TYPE,
        more ? kind | FrameRingLayout.FLAG_MORE : kind,
      );
      const padded = new Uint8Array((data.length + 3) & ~3);
      padded.set(data);
      const words = new Int32Array(padded.buffer);
      const payload = w + FrameRingLayout.FRAME_HEADER_BYTES / 4;
      for (let i = 0; i < words.length; i++) Atomics.store(v, payload + i, words[i]!);
      return true;
    },
    publish() {},
  };
}

/**
 * BUG (state CAS without a generation check): sets a flag in a slot's state word with a CAS loop
 * that re-reads the word — so a probe result meant for the process it saw lands on whatever
 * process holds the slot now. (SlotTable.setFlags compares the generation first.)
 */
export function setFlagsIgnoringGeneration(view: Int32Array, index: number, flag: number): boolean {
  for (;;) {
    const word = Atomics.load(view, index);
    const next = StateWord.with(word, 'flags', StateWord.get(word, 'flags') | flag);
    if (Atomics.compareExchange(view, index, word, next) === word) return true;
  }
}
