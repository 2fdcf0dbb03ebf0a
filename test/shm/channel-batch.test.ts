/**
 * SharedChannel batch calls (trySendMany / tryReceiveMany): FIFO across the ring's wrap-around,
 * partial batches at the full edge, explicit 'closed' (-1) only after draining, argument checks,
 * and a two-thread stress run (spsc and mpsc) that checks order, torn messages and loss.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ChannelMode, SharedChannel } from '../../src/shm/channel.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { firstMessage, spawnWorker } from '../helpers/threads.ts';

const WORKER = new URL('./workers/channel-batch.worker.ts', import.meta.url);
const live: import('node:worker_threads').Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

const pack = (...seqs: number[]) => Int32Array.from(seqs.flatMap((s) => [s, -s | 0]));

describe.each<ChannelMode>(['spsc', 'mpsc'])('SharedChannel batch calls (%s)', (mode) => {
  it('moves batches in FIFO order across the wrap-around, partially at the full edge', () => {
    const producer = SharedChannel.create({ capacity: 8, messageWords: 2, mode });
    const consumer = SharedChannel.from(producer.handle);
    const out = new Int32Array(2 * 8);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      // 5 in, 3 out per round: the ring fills up, so some batches are cut short.
      const batch = pack(next, next + 1, next + 2, next + 3, next + 4);
      const sent = producer.trySendMany(batch);
      expect(sent).toBeGreaterThanOrEqual(0);
      expect(sent).toBeLessThanOrEqual(5);
      expect(producer.size).toBeLessThanOrEqual(8);
      next += sent;
      const got = consumer.tryReceiveMany(out, 3);
      for (let m = 0; m < got; m++) {
        expect([out[2 * m], out[2 * m + 1]]).toEqual([expected, -expected | 0]);
        expected++;
      }
    }
    const room = 8 - producer.size;
    expect(producer.trySendMany(pack(...Array.from({ length: 8 }, (_, k) => next + k)))).toBe(room);
  });

  it('says full (0), empty (0), and closed (-1) only once drained', () => {
    const ch = SharedChannel.create({ capacity: 4, messageWords: 2, mode });
    const rx = SharedChannel.from(ch.handle);
    const out = new Int32Array(8);
    expect(rx.tryReceiveMany(out)).toBe(0);
    expect(ch.trySendMany(pack(1, 2, 3, 4, 5, 6))).toBe(4);
    expect(ch.trySendMany(pack(7))).toBe(0);
    ch.close();
    expect(ch.trySendMany(pack(7))).toBe(-1);
    expect(rx.tryReceiveMany(out, 3)).toBe(3);
    expect(Array.from(out.subarray(0, 6))).toEqual([1, -1, 2, -2, 3, -3]);
    expect(rx.tryReceiveMany(out)).toBe(1);
    expect(rx.tryReceiveMany(out)).toBe(-1);
  });

  it('refuses a buffer that is not an Int32Array or too short, and counts that do not fit', () => {
    const ch = SharedChannel.create({ capacity: 4, messageWords: 2, mode });
    expect(() => ch.trySendMany([1, 2] as unknown as Int32Array)).toThrow(/Int32Array/);
    expect(() => ch.trySendMany(new Int32Array(4), 3)).toThrow(/count/);
    expect(() => ch.trySendMany(new Int32Array(4), 1.5)).toThrow(/count/);
    expect(ch.trySendMany(new Int32Array(4), 0)).toBe(0);
    const rx = SharedChannel.from(ch.handle);
    expect(() => rx.tryReceiveMany(new Int32Array(1))).toThrow(/at least one 2-word message/);
    expect(() => rx.tryReceiveMany(new Int32Array(4), 0)).toThrow(/max/);
    expect(() => rx.tryReceiveMany(new Int32Array(4), 3)).toThrow(/max/);
  });

  it('two threads: every message arrives once, in order, untorn, then closed-and-drained', async () => {
    const channel = SharedChannel.create({ capacity: 64, messageWords: 3, mode });
    const barrier = createBarrier();
    const count = 200_000;
    const base = { handle: channel.handle, count, barrier, stallMs: 10_000 };
    const workers = [
      spawnWorker(WORKER, { ...base, role: 'consumer', seed: 12345 }),
      spawnWorker(WORKER, { ...base, role: 'producer', seed: 777 }),
    ];
    live.push(...workers);
    const [consumer, producer] = await Promise.all(
      workers.map((w) => firstMessage<Record<string, number>>(w)),
    );
    expect(producer?.sent).toBe(count);
    expect(consumer).toMatchObject({ received: count, torn: 0, outOfOrder: 0 });
    // The batches really were batches on the receiving side.
    expect(consumer?.maxBatch).toBeGreaterThan(1);
  }, 60_000);
});
