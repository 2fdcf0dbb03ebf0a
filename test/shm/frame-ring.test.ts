/**
 * FrameRing and the message layer on it (src/io/frames.ts): frames in order across the
 * wrap-around (PAD frames and the short-gap rule), no room reported instead of overwriting,
 * chunking of messages longer than a frame or than the whole ring, argument checks, and a
 * two-thread run each way with random sizes that checks every message for loss, duplication,
 * reordering and tearing.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, LayoutMismatchError } from '../../src/errors.ts';
import { FrameReceiver, FrameSender } from '../../src/io/frames.ts';
import { FrameRing } from '../../src/shm/frame-ring.ts';
import { firstMessage, spawnWorker } from '../helpers/threads.ts';
import { lengths, message, mismatch } from './frame-ring-data.ts';

const PEER = new URL('./workers/frame-ring-peer.worker.ts', import.meta.url);
const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

function readAll(
  ring: FrameRing,
): { kind: number; slot: number; generation: number; more: boolean; bytes: Buffer }[] {
  const out: { kind: number; slot: number; generation: number; more: boolean; bytes: Buffer }[] =
    [];
  ring.read((kind, slot, generation, more, data, start, end) => {
    out.push({ kind, slot, generation, more, bytes: Buffer.from(data.subarray(start, end)) });
  });
  return out;
}

describe('FrameRing', () => {
  it('keeps frames in order across many wrap-arounds, and says no room instead of overwriting', () => {
    const ring = FrameRing.create(1024);
    const reader = FrameRing.from(ring.handle);
    let sent = 0;
    let got = 0;
    let refused = 0;
    for (let round = 0; round < 500; round++) {
      // Sizes that leave every possible gap at the end of the data area.
      for (let k = 0; k < 3; k++) {
        const size = (round * 13 + k * 29) % 200;
        if (ring.tryWrite(2, sent % 5, sent, false, message(sent, size))) sent++;
        else refused++;
      }
      ring.publish();
      for (const f of readAll(reader)) {
        expect([f.kind, f.slot, f.generation, f.more]).toEqual([2, got % 5, got, false]);
        expect(mismatch(got, f.bytes.length, f.bytes, 0, f.bytes.length)).toBeUndefined();
        got++;
      }
    }
    expect(got).toBe(sent);
    expect(sent).toBeGreaterThan(1000);
    // Fill it up: the next frame is refused, and nothing already written changes.
    let filled = 0;
    while (ring.tryWrite(3, 0, filled, false, message(filled, 100))) filled++;
    expect(refused + filled).toBeGreaterThan(0);
    ring.publish();
    const frames = readAll(reader);
    expect(frames.length).toBe(filled);
    for (const [i, f] of frames.entries())
      expect(mismatch(i, 100, f.bytes, 0, f.bytes.length)).toBeUndefined();
  });

  it('shows nothing before publish, and a batch after one publish', () => {
    const ring = FrameRing.create(4096);
    const reader = FrameRing.from(ring.handle);
    ring.tryWrite(1, 1, 1, false, Buffer.from('a'));
    ring.tryWrite(1, 1, 1, false, Buffer.from('b'));
    expect(reader.readable()).toBe(false);
    expect(readAll(reader)).toEqual([]);
    ring.publish();
    expect(readAll(reader).map((f) => f.bytes.toString())).toEqual(['a', 'b']);
  });

  it('wakes a parked consumer once per sleep, and a parked producer when space frees', async () => {
    const ring = FrameRing.create(1024);
    const reader = FrameRing.from(ring.handle);
    const parked = reader.waitForData();
    expect(parked).toBeInstanceOf(Promise);
    ring.tryWrite(1, 0, 0, false, Buffer.from('x'));
    ring.publish();
    await parked;
    expect(reader.waitForData()).toBeUndefined(); // data is there: no wait
    readAll(reader);
    while (ring.tryWrite(1, 0, 0, false, Buffer.alloc(200))) {}
    ring.publish();
    const room = ring.waitForSpace(200);
    expect(room).toBeInstanceOf(Promise);
    readAll(reader);
    await room;
    expect(ring.tryWrite(1, 0, 0, false, Buffer.alloc(200))).toBe(true);
  });

  it('close() wakes both sides', async () => {
    const ring = FrameRing.create(1024);
    const reader = FrameRing.from(ring.handle);
    const waiting = reader.waitForData();
    while (ring.tryWrite(1, 0, 0, false, Buffer.alloc(100))) {}
    const full = ring.waitForSpace(100);
    ring.close();
    await Promise.all([waiting, full]);
    expect(reader.closed).toBe(true);
  });

  it('rejects a bad capacity or handle, naming the field', () => {
    expect(() => FrameRing.create(1000)).toThrow(InvalidArgumentError);
    expect(() => FrameRing.create(1000)).toThrow(/capacity/);
    expect(() => FrameRing.create(512)).toThrow(/capacity/);
    expect(() => FrameRing.from({ kind: 'nope' } as never)).toThrow(LayoutMismatchError);
    const other = new SharedArrayBuffer(4096);
    expect(() =>
      FrameRing.from({ kind: 'atomvisor.frame-ring', layoutVersion: 1, buffer: other }),
    ).toThrow(/does not hold a frame ring/);
  });
});

describe('FrameSender / FrameReceiver', () => {
  it('chunks a message longer than a frame or the ring, and joins it again', async () => {
    const ring = FrameRing.create(4096); // frames carry ≤ 1008 bytes
    const got: Buffer[] = [];
    const receiver = new FrameReceiver(
      FrameRing.from(ring.handle),
      (_k, _s, _g, data, start, end) => got.push(Buffer.from(data.subarray(start, end))),
    );
    const sender = new FrameSender(ring);
    const sizes = [0, 1, 1008, 1009, 5000, 20_000, 3];
    for (const [i, size] of sizes.entries()) sender.sendBytes(1, 4, 9, message(i, size));
    expect(sender.backlogBytes).toBeGreaterThan(0); // 20 000 bytes cannot fit at once
    const running = receiver.run();
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(sizes.length);
    for (const [i, b] of got.entries())
      expect(mismatch(i, sizes[i] as number, b, 0, b.length)).toBeUndefined();
    expect(sender.backlogBytes).toBe(0);
    ring.close();
    await running;
  });

  it('writes text as UTF-8 straight into the ring, multi-byte characters included', () => {
    const ring = FrameRing.create(4096);
    const reader = FrameRing.from(ring.handle);
    const sender = new FrameSender(ring);
    const texts = ['{"a":1}', 'ü€😀 mixed', 'x'.repeat(2000), '😀'.repeat(400)];
    for (const t of texts) sender.sendText(1, 0, 0, t);
    sender.flush();
    const seen: string[] = [];
    new FrameReceiver(reader, (_k, _s, _g, data, start, end) =>
      seen.push(data.toString('utf8', start, end)),
    ).drain();
    // The last two do not fit in one frame: chunked and joined.
    expect(seen).toEqual(texts.slice(0, 1).concat(texts.slice(1)));
  });

  it.each([
    ['worker → main', 'send'],
    ['main → worker', 'receive'],
  ] as const)(
    'moves 20 000 random-size messages %s with none lost, duplicated, reordered or torn',
    async (_name, workerRole) => {
      const seed = 0x5eed + (workerRole === 'send' ? 1 : 2);
      const count = 20_000;
      const maxBytes = 300_000; // over the 64 KiB ring: chunked, and waits for space
      const ring = FrameRing.create(64 * 1024);
      const worker = spawnWorker(PEER, {
        role: workerRole,
        handle: ring.handle,
        seed,
        count,
        maxBytes,
      });
      live.push(worker);
      if (workerRole === 'send') {
        const sizes = lengths(seed, count, maxBytes);
        let expected = 0;
        let problem: string | undefined;
        const receiver = new FrameReceiver(ring, (kind, slot, generation, data, start, end) => {
          if (problem !== undefined) return;
          if (kind !== 1 || slot !== expected % 7 || generation !== expected)
            problem = `message ${expected}: kind ${kind} slot ${slot} generation ${generation}`;
          else problem = mismatch(expected, sizes[expected] as number, data, start, end);
          expected++;
        });
        const running = receiver.run();
        await firstMessage(worker);
        await expect.poll(() => expected, { timeout: 60_000 }).toBe(count);
        expect(problem).toBeUndefined();
        ring.close();
        await running;
      } else {
        const sizes = lengths(seed, count, maxBytes);
        const sender = new FrameSender(ring);
        const result = firstMessage<{ received: number; problem?: string }>(worker);
        for (let i = 0; i < count; i++) {
          sender.sendBytes(1, i % 7, i, message(i, sizes[i] as number));
          if (i % 64 === 0) await new Promise((r) => setImmediate(r));
        }
        const { received, problem } = await result;
        expect(problem).toBeUndefined();
        expect(received).toBe(count);
      }
    },
    120_000,
  );
});
