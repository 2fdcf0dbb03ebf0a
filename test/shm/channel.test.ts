import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChannelMode, SharedChannel } from '../../src/shm/channel.ts';
import { Channel as L } from '../../src/shm/layout.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { firstMessage, STRESS_THREADS, spawnWorker } from '../helpers/threads.ts';
import { type ChannelVariant, StreamChecker, type StreamReport } from '../planted/channels.ts';

const PRODUCER_WORKER = new URL('./workers/channel-producer.worker.ts', import.meta.url);
const CONSUMER_WORKER = new URL('./workers/channel-consumer.worker.ts', import.meta.url);

/** Small, so the full edge is hit all the time; 16 words = one 64-byte line per SPSC slot. */
const CAPACITY = 64;
const WORDS = 16;
/** A stream with no message for this long has stalled: the consumer reports it, never hangs. */
const STALL_MS = 5_000;

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

/** Resolves once `condition()` holds, polling without blocking; fails after `limitMs`. */
async function until(condition: () => boolean, limitMs = 20_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > limitMs) throw new Error(`condition not met in ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface ProducerReport {
  sent: number;
  code?: string;
  error?: string;
}

interface StreamPlan {
  mode: ChannelMode;
  variant: ChannelVariant;
  producers: number;
  perProducer: number;
  /** Who receives: a worker with blocking receive(), or this thread with receiveAsync(). */
  consumer: 'worker' | 'main';
}

interface StreamOutcome {
  report: StreamReport;
  /** Undefined when the consumer stopped at a violation and the producers were cut off. */
  producers: ProducerReport[] | undefined;
}

async function consumeOnMain(channel: SharedChannel, plan: StreamPlan): Promise<StreamReport> {
  const checker = new StreamChecker(plan.producers, plan.perProducer);
  const out = new Int32Array(WORDS);
  try {
    for (;;) {
      const message = await channel.receiveAsync(out, { timeoutMs: STALL_MS });
      if (message === null) {
        checker.finish();
        break;
      }
      if (!checker.check(message)) break;
    }
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_ATOMVISOR_TIMEOUT') throw error;
    checker.stall(`no message for ${STALL_MS} ms after ${checker.received}`);
  }
  return checker.report();
}

/**
 * One run of the stream check: `producers` workers send `perProducer` stamped messages each through
 * the variant; the consumer checks them and stops at the first violation; the channel is closed
 * once every producer has finished, so a clean run ends on "closed and drained".
 */
async function runStream(plan: StreamPlan): Promise<StreamOutcome> {
  const channel = SharedChannel.create({
    mode: plan.mode,
    capacity: CAPACITY,
    messageWords: WORDS,
  });
  const barrier = createBarrier();
  const parties = plan.producers + (plan.consumer === 'worker' ? 1 : 0);
  const common = {
    variant: plan.variant,
    handle: channel.handle,
    messageWords: WORDS,
    barrier,
    parties,
    stallMs: STALL_MS,
  };
  const workers: Worker[] = [];
  try {
    for (let p = 0; p < plan.producers; p++) {
      workers.push(
        spawnWorker(PRODUCER_WORKER, { ...common, producer: p, count: plan.perProducer }),
      );
    }
    const produced = Promise.all(workers.map((w) => firstMessage<ProducerReport>(w)));
    // Every producer done (or failed): close, so the consumer drains what was sent and stops.
    produced.then(
      () => channel.close(),
      () => channel.close(),
    );
    let report: StreamReport;
    if (plan.consumer === 'worker') {
      const consumer = spawnWorker(CONSUMER_WORKER, {
        ...common,
        producers: plan.producers,
        perProducer: plan.perProducer,
      });
      workers.push(consumer);
      report = await firstMessage<StreamReport>(consumer);
    } else {
      await until(() => Atomics.load(barrier, 0) >= parties);
      report = await consumeOnMain(channel, plan);
    }
    return { report, producers: report.violations === 0 ? await produced : undefined };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function expectClean(outcome: StreamOutcome, plan: StreamPlan): void {
  const total = plan.producers * plan.perProducer;
  expect(outcome.report).toEqual({ received: total, violations: 0, examples: [], stalled: false });
  expect(outcome.producers).toEqual(
    Array.from({ length: plan.producers }, () => ({ sent: plan.perProducer })),
  );
}

/** Rounds a planted bug gets to show itself; the loop stops at the first round with a violation. */
const PLANTED_ROUNDS = 8;

async function catchPlanted(plan: StreamPlan): Promise<{ rounds: number; report: StreamReport }> {
  let report: StreamReport = { received: 0, violations: 0, examples: [], stalled: false };
  let rounds = 0;
  while (rounds < PLANTED_ROUNDS && report.violations === 0) {
    rounds++;
    report = (await runStream(plan)).report;
  }
  return { rounds, report };
}

const mpscStream = (variant: ChannelVariant, consumer: 'worker' | 'main'): StreamPlan => ({
  mode: 'mpsc',
  variant,
  producers: STRESS_THREADS,
  perProducer: 50_000,
  consumer,
});

const spscStream = (variant: ChannelVariant, consumer: 'worker' | 'main'): StreamPlan => ({
  mode: 'spsc',
  variant,
  producers: 1,
  perProducer: 200_000,
  consumer,
});

describe('SharedChannel streams (real threads, capacity 64, 16-word messages)', () => {
  it(`mpsc: ${STRESS_THREADS} producer workers × 50000 → a worker consumer: each message once, in order, untorn`, async () => {
    const plan = mpscStream('correct', 'worker');
    expectClean(await runStream(plan), plan);
  });

  it(`mpsc: ${STRESS_THREADS} producer workers × 50000 → receiveAsync on the main thread`, async () => {
    const plan = mpscStream('correct', 'main');
    expectClean(await runStream(plan), plan);
  });

  it('spsc: 1 producer worker × 200000 → a worker consumer: each message once, in order, untorn', async () => {
    const plan = spscStream('correct', 'worker');
    expectClean(await runStream(plan), plan);
  });

  it('spsc: 1 producer worker × 200000 → receiveAsync on the main thread', async () => {
    const plan = spscStream('correct', 'main');
    expectClean(await runStream(plan), plan);
  });
});

describe('SharedChannel stream check catches planted ring bugs', () => {
  // The same check as above against broken rings. A race shows only when threads collide inside
  // its window, so each variant gets a few rounds; the first round with a violation ends it.
  it('catches the SPSC producer that publishes TAIL before writing the payload', async () => {
    const { rounds, report } = await catchPlanted(spscStream('publish-before-data', 'worker'));
    expect(report.violations, `${rounds} rounds`).toBeGreaterThan(0);
  });

  it('catches the MPSC producers that claim TAIL with load + store instead of compareExchange', async () => {
    const { rounds, report } = await catchPlanted(mpscStream('tail-load-store', 'worker'));
    expect(report.violations, `${rounds} rounds`).toBeGreaterThan(0);
  });

  it('catches the MPSC consumer that frees a slot before reading it', async () => {
    const { rounds, report } = await catchPlanted(mpscStream('free-before-read', 'worker'));
    expect(report.violations, `${rounds} rounds`).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Single-thread behaviour: edges, close, waiting, roles, bad input.

const both = ['spsc', 'mpsc'] as const;

/** Receives everything there is now, as plain arrays. */
function drain(channel: SharedChannel, words = channel.messageWords): number[][] {
  const got: number[][] = [];
  const out = new Int32Array(words);
  while (channel.tryReceive(out) === 'received') got.push(Array.from(out));
  return got;
}

function header(channel: SharedChannel): Int32Array {
  return new Int32Array(channel.handle.buffer);
}

describe('SharedChannel edges (one thread)', () => {
  for (const mode of both) {
    it(`${mode}: trySend says 'full' exactly at capacity and overwrites nothing`, () => {
      const channel = SharedChannel.create({ mode, capacity: 8, messageWords: 3 });
      for (let i = 0; i < 8; i++) expect(channel.trySend([i, i + 100, i + 200])).toBe('sent');
      expect(channel.size).toBe(8);
      expect(channel.trySend([99, 99, 99])).toBe('full');
      expect(channel.trySend([98])).toBe('full');
      expect(channel.size).toBe(8);
      expect(drain(channel)).toEqual(Array.from({ length: 8 }, (_, i) => [i, i + 100, i + 200]));
      expect(channel.tryReceive(new Int32Array(3))).toBe('empty');
      // One slot freed is one message of room, no more.
      for (let i = 0; i < 8; i++) expect(channel.trySend([i])).toBe('sent');
      const out = new Int32Array(3);
      expect(channel.tryReceive(out)).toBe('received');
      expect(channel.trySend([8])).toBe('sent');
      expect(channel.trySend([9])).toBe('full');
      expect(drain(channel).map((m) => m[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it(`${mode}: tryReceive says 'empty' on an empty channel, before and after traffic`, () => {
      const channel = SharedChannel.create({ mode, capacity: 4 });
      const out = new Int32Array(1);
      expect(channel.tryReceive(out)).toBe('empty');
      expect(channel.tryReceive(out)).toBe('empty');
      expect(channel.trySend([5])).toBe('sent');
      expect(channel.tryReceive(out)).toBe('received');
      expect(out[0]).toBe(5);
      expect(channel.tryReceive(out)).toBe('empty');
      expect(channel.size).toBe(0);
    });

    it(`${mode}: keeps order over many laps at every fill level`, () => {
      const channel = SharedChannel.create({ mode, capacity: 4, messageWords: 2 });
      const out = new Int32Array(2);
      let sent = 0;
      let received = 0;
      for (let lap = 0; lap < 500; lap++) {
        const burst = (lap % 4) + 1; // 1..capacity messages in flight
        for (let i = 0; i < burst; i++) expect(channel.trySend([sent, ~sent++])).toBe('sent');
        expect(channel.size).toBe(burst);
        for (let i = 0; i < burst; i++) {
          expect(channel.tryReceive(out)).toBe('received');
          expect(Array.from(out)).toEqual([received, ~received++]);
        }
      }
      expect(received).toBe(1250);
      expect(channel.tryReceive(out)).toBe('empty');
    });

    it(`${mode}: keeps order when the ring indices wrap past 2^31`, () => {
      const capacity = 4;
      const channel = SharedChannel.create({ mode, capacity, messageWords: 1 });
      // Move both indices (and, in mpsc, each slot's sequence) to just below 2^31 before first use.
      const view = header(channel);
      const start = 2 ** 31 - 6;
      view[L.TAIL] = start;
      view[L.HEAD] = start;
      if (mode === 'mpsc') {
        for (let i = 0; i < capacity; i++) {
          const pos = (start + i) | 0;
          view[L.SLOTS + (pos & (capacity - 1)) * 2] = pos;
        }
      }
      const out = new Int32Array(1);
      for (let i = 0; i < 20; i++) {
        expect(channel.trySend([i])).toBe('sent');
        expect(channel.trySend([i + 1000])).toBe('sent');
        expect(channel.tryReceive(out)).toBe('received');
        expect(out[0]).toBe(i);
        expect(channel.tryReceive(out)).toBe('received');
        expect(out[0]).toBe(i + 1000);
      }
      // It did wrap: mpsc counts in the whole Int32 (past 2^31 is negative); spsc counts modulo
      // 2^31, because TAIL's top bit is its closed flag.
      if (mode === 'mpsc') expect(view[L.TAIL]).toBeLessThan(0);
      else expect(view[L.TAIL]).toBeLessThan(start);
      for (let i = 0; i < capacity; i++) expect(channel.trySend([i])).toBe('sent');
      expect(channel.trySend([9])).toBe('full');
      expect(channel.size).toBe(capacity);
      expect(drain(channel).flat()).toEqual([0, 1, 2, 3]);
    });

    it(`${mode}: zero-fills the rest of a short message, also in a reused slot`, () => {
      const channel = SharedChannel.create({ mode, capacity: 2, messageWords: 4 });
      channel.trySend([1, 2, 3, 4]);
      channel.trySend([5, 6, 7, 8]);
      expect(drain(channel)).toEqual([
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ]);
      channel.trySend([9]);
      channel.trySend([]);
      expect(drain(channel)).toEqual([
        [9, 0, 0, 0],
        [0, 0, 0, 0],
      ]);
      channel.trySend(new Int32Array([10, 11]));
      expect(drain(channel)).toEqual([[10, 11, 0, 0]]);
    });

    it(`${mode}: refuses a message longer than messageWords, first call or later`, async () => {
      const channel = SharedChannel.create({ mode, capacity: 4, messageWords: 2 });
      const tooLong = expect.objectContaining({
        code: 'ERR_ATOMVISOR_INVALID_ARGUMENT',
        field: 'message',
      });
      expect(() => channel.trySend([1, 2, 3])).toThrowError(tooLong);
      expect(channel.trySend([1, 2])).toBe('sent');
      expect(() => channel.trySend([1, 2, 3])).toThrowError(tooLong);
      await expect(channel.sendAsync([1, 2, 3])).rejects.toThrowError(tooLong);
      expect(() => SharedChannel.create({ mode }).trySend(7 as never)).toThrowError(
        expect.objectContaining({ field: 'message' }),
      );
      expect(channel.size).toBe(1);
      expect(drain(channel)).toEqual([[1, 2]]);
    });
  }
});

const ACTOR_WORKER = new URL('./workers/channel-actor.worker.ts', import.meta.url);

interface ActorReply {
  ready?: boolean;
  message?: number[] | null;
  filled?: number;
  result?: string;
  sent?: boolean;
  error?: string;
  code?: string;
}

/** A worker that runs one channel call per command (see channel-actor.worker.ts). */
async function startActor(
  channel: SharedChannel,
): Promise<(command: string) => Promise<ActorReply>> {
  const worker = spawnWorker(ACTOR_WORKER, { handle: channel.handle });
  live.push(worker);
  await firstMessage<ActorReply>(worker);
  return (command) => {
    const reply = firstMessage<ActorReply>(worker);
    worker.postMessage(command);
    return reply;
  };
}

const CLOSED = expect.objectContaining({ code: 'ERR_ATOMVISOR_CHANNEL_CLOSED' });
const TIMED_OUT = expect.objectContaining({ code: 'ERR_ATOMVISOR_TIMEOUT' });
const ROLE = expect.objectContaining({ code: 'ERR_ATOMVISOR_CHANNEL_ROLE' });

describe('SharedChannel close', () => {
  for (const mode of both) {
    it(`${mode}: a worker parked in receive() is woken by a send, and by close() with null`, async () => {
      const channel = SharedChannel.create({ mode, capacity: 4 });
      const view = header(channel);
      const ask = await startActor(channel);
      expect(await ask('receive-short')).toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });

      let parked = ask('receive');
      await until(() => Atomics.load(view, L.CONSUMERS_WAITING) === 1);
      expect(channel.trySend([7])).toBe('sent');
      expect(await parked).toEqual({ message: [7] });

      parked = ask('receive');
      await until(() => Atomics.load(view, L.CONSUMERS_WAITING) === 1);
      // The worker holds the one consumer role; this thread's object cannot take it.
      expect(() => channel.tryReceive(new Int32Array(1))).toThrowError(ROLE);
      channel.close();
      expect(await parked).toEqual({ message: null });
      expect(Atomics.load(view, L.CONSUMERS_WAITING)).toBe(0);
    });

    it(`${mode}: a worker parked in send() on a full channel gets ChannelClosedError; the rest drains`, async () => {
      const channel = SharedChannel.create({ mode, capacity: 4 });
      const view = header(channel);
      const ask = await startActor(channel);
      expect(await ask('fill')).toEqual({ filled: 4, result: 'full' });

      let parked = ask('send');
      await until(() => Atomics.load(view, L.PRODUCERS_WAITING) === 1);
      const out = new Int32Array(1);
      expect(channel.tryReceive(out)).toBe('received'); // room for one: the parked send completes
      expect(out[0]).toBe(0);
      expect(await parked).toEqual({ sent: true });

      parked = ask('send');
      await until(() => Atomics.load(view, L.PRODUCERS_WAITING) === 1);
      channel.close();
      expect(await parked).toEqual(CLOSED);
      expect(channel.closed).toBe(true);
      if (mode === 'mpsc') expect(channel.trySend([5])).toBe('closed');
      // Everything whose send succeeded is still received, in order, before 'closed'.
      expect(drain(channel).flat()).toEqual([1, 2, 3, -1]);
      expect(channel.tryReceive(out)).toBe('closed');
      expect(channel.tryReceive(out)).toBe('closed');
      expect(await channel.receiveAsync()).toBeNull();
    });

    it(`${mode}: close() settles parked receiveAsync (null) and sendAsync (ChannelClosedError)`, async () => {
      const receiver = SharedChannel.create({ mode, capacity: 2 });
      const waiting = receiver.receiveAsync();
      await until(() => Atomics.load(header(receiver), L.CONSUMERS_WAITING) === 1);
      receiver.close();
      expect(await waiting).toBeNull();
      expect(Atomics.load(header(receiver), L.CONSUMERS_WAITING)).toBe(0);

      const sender = SharedChannel.create({ mode, capacity: 2 });
      expect(sender.trySend([1])).toBe('sent');
      expect(sender.trySend([2])).toBe('sent');
      const refused = expect(sender.sendAsync([3])).rejects.toEqual(CLOSED);
      await until(() => Atomics.load(header(sender), L.PRODUCERS_WAITING) === 1);
      sender.close();
      await refused;
      sender.close(); // idempotent
      expect(sender.trySend([4])).toBe('closed');
      await expect(sender.sendAsync([4])).rejects.toEqual(CLOSED);
      expect(Atomics.load(header(sender), L.PRODUCERS_WAITING)).toBe(0);
      const out = new Int32Array(1);
      expect(sender.tryReceive(out)).toBe('received');
      expect(out[0]).toBe(1);
      expect(Array.from((await sender.receiveAsync()) ?? [])).toEqual([2]);
      expect(sender.tryReceive(out)).toBe('closed');
      expect(await sender.receiveAsync()).toBeNull();
    });
  }
});

describe('SharedChannel waiting: timeouts and abort', () => {
  it('times out receiveAsync on an empty and sendAsync on a full channel, changing nothing', async () => {
    const channel = SharedChannel.create({ capacity: 2 });
    const view = header(channel);
    await expect(channel.receiveAsync(undefined, { timeoutMs: 20 })).rejects.toEqual(TIMED_OUT);
    await expect(channel.receiveAsync(undefined, { timeoutMs: 0 })).rejects.toEqual(TIMED_OUT);
    expect(Atomics.load(view, L.CONSUMERS_WAITING)).toBe(0);
    expect(channel.trySend([1])).toBe('sent');
    expect(channel.trySend([2])).toBe('sent');
    await expect(channel.sendAsync([3], { timeoutMs: 20 })).rejects.toEqual(TIMED_OUT);
    expect(Atomics.load(view, L.PRODUCERS_WAITING)).toBe(0);
    expect(drain(channel)).toEqual([[1], [2]]);
  });

  it('rejects receiveAsync / sendAsync with the signal reason; a later waiter still gets its message', async () => {
    const channel = SharedChannel.create({ capacity: 2 });
    const view = header(channel);
    const controller = new AbortController();
    const reason = new Error('caller went away');
    const aborted = expect(channel.receiveAsync(undefined, { signal: controller.signal })).rejects;
    await until(() => Atomics.load(view, L.CONSUMERS_WAITING) === 1);
    controller.abort(reason);
    await aborted.toBe(reason);
    expect(Atomics.load(view, L.CONSUMERS_WAITING)).toBe(0);

    // The aborted waitAsync may still be queued; the live waiter must be woken all the same.
    const next = channel.receiveAsync(undefined, { timeoutMs: 20_000 });
    await until(() => Atomics.load(view, L.CONSUMERS_WAITING) === 1);
    expect(channel.trySend([42])).toBe('sent');
    expect(Array.from((await next) ?? [])).toEqual([42]);

    // Already aborted: rejects at once and takes nothing.
    expect(channel.trySend([7])).toBe('sent');
    const early = new Error('already');
    await expect(
      channel.receiveAsync(undefined, { signal: AbortSignal.abort(early) }),
    ).rejects.toBe(early);
    expect(channel.trySend([8])).toBe('sent');
    const sendController = new AbortController();
    const sendAborted = expect(channel.sendAsync([9], { signal: sendController.signal })).rejects;
    await until(() => Atomics.load(view, L.PRODUCERS_WAITING) === 1);
    sendController.abort(reason);
    await sendAborted.toBe(reason);
    expect(drain(channel)).toEqual([[7], [8]]);
  });

  it('refuses blocking send() and receive() on the main thread', () => {
    const channel = SharedChannel.create({ capacity: 2 });
    const blocking = expect.objectContaining({ code: 'ERR_ATOMVISOR_MAIN_THREAD_BLOCKING' });
    expect(() => channel.send([1])).toThrowError(blocking);
    expect(() => channel.receive()).toThrowError(blocking);
    expect(channel.size).toBe(0);
    expect(channel.trySend([1])).toBe('sent');
    expect(() => channel.receive()).toThrowError(blocking); // even with a message waiting
    expect(drain(channel)).toEqual([[1]]);
  });
});

describe('SharedChannel roles', () => {
  it('spsc: a second object may not send, nor receive once another has received', async () => {
    const a = SharedChannel.create({ mode: 'spsc', capacity: 4 });
    const b = SharedChannel.from(a.handle);
    const c = SharedChannel.from(structuredClone(a.handle));
    const out = new Int32Array(1);
    expect(a.trySend([1])).toBe('sent');
    expect(() => b.trySend([2])).toThrowError(ROLE);
    await expect(b.sendAsync([2])).rejects.toEqual(ROLE);
    expect(b.tryReceive(out)).toBe('received'); // the consumer role was free
    expect(out[0]).toBe(1);
    expect(() => c.tryReceive(out)).toThrowError(ROLE);
    expect(() => a.tryReceive(out)).toThrowError(ROLE);
    await expect(c.receiveAsync()).rejects.toEqual(ROLE);
    expect(a.trySend([3])).toBe('sent');
    expect(drain(b)).toEqual([[3]]);
  });

  it('mpsc: any number of sending objects, one receiving object', () => {
    const a = SharedChannel.create({ mode: 'mpsc', capacity: 4 });
    const b = SharedChannel.from(a.handle);
    const c = SharedChannel.from(a.handle);
    for (const [i, sender] of [a, b, c].entries()) expect(sender.trySend([i])).toBe('sent');
    const out = new Int32Array(1);
    expect(c.tryReceive(out)).toBe('received');
    expect(() => a.tryReceive(out)).toThrowError(ROLE);
    expect(() => b.tryReceive(out)).toThrowError(ROLE);
    expect(drain(c).flat()).toEqual([1, 2]);
  });

  for (const mode of both) {
    it(`${mode}: releaseRoles() lets another object take over, in order`, () => {
      const a = SharedChannel.create({ mode, capacity: 4 });
      const b = SharedChannel.from(a.handle);
      const c = SharedChannel.from(a.handle);
      const d = SharedChannel.from(a.handle);
      const out = new Int32Array(1);
      expect(a.trySend([1])).toBe('sent');
      expect(a.trySend([2])).toBe('sent');
      a.releaseRoles();
      expect(b.trySend([3])).toBe('sent');
      if (mode === 'spsc') expect(() => a.trySend([4])).toThrowError(ROLE);
      expect(c.tryReceive(out)).toBe('received');
      expect(out[0]).toBe(1);
      d.releaseRoles(); // holds nothing: frees nothing
      expect(() => d.tryReceive(out)).toThrowError(ROLE);
      c.releaseRoles();
      expect(drain(d).flat()).toEqual([2, 3]);
      expect(() => c.tryReceive(out)).toThrowError(ROLE);
      expect(b.trySend([5])).toBe('sent');
      expect(drain(d).flat()).toEqual([5]);
    });
  }
});

describe('SharedChannel bad input', () => {
  it('create() names the bad option', () => {
    const cases: [unknown, string][] = [
      [{ capacity: 3 }, 'options.capacity'],
      [{ capacity: 12 }, 'options.capacity'],
      [{ capacity: 1 }, 'options.capacity'],
      [{ capacity: 0 }, 'options.capacity'],
      [{ capacity: -4 }, 'options.capacity'],
      [{ capacity: 2 ** 25 }, 'options.capacity'],
      [{ capacity: 1.5 }, 'options.capacity'],
      [{ capacity: '8' }, 'options.capacity'],
      [{ messageWords: 0 }, 'options.messageWords'],
      [{ messageWords: 4097 }, 'options.messageWords'],
      [{ messageWords: 2.5 }, 'options.messageWords'],
      [{ mode: 'x' }, 'options.mode'],
      [{ mode: 'SPSC' }, 'options.mode'],
      [null, 'options'],
      ['spsc', 'options'],
    ];
    for (const [options, field] of cases) {
      expect(() => SharedChannel.create(options as never), JSON.stringify(options)).toThrowError(
        expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field }),
      );
    }
    expect(() => SharedChannel.create({ capacity: 12 })).toThrowError(/power of two/);
    const edge = SharedChannel.create({ capacity: 2, messageWords: 4096, mode: 'mpsc' });
    expect([edge.capacity, edge.messageWords, edge.mode]).toEqual([2, 4096, 'mpsc']);
    const defaults = SharedChannel.create();
    expect([defaults.capacity, defaults.messageWords, defaults.mode]).toEqual([1024, 1, 'spsc']);
  });

  it('from() refuses a handle or buffer that is not a channel of this layout', () => {
    const channel = SharedChannel.create({ capacity: 4, messageWords: 2 });
    const handle = channel.handle;
    const mismatch = (field: string, reason?: RegExp) =>
      expect.objectContaining({
        code: 'ERR_ATOMVISOR_LAYOUT_MISMATCH',
        field,
        ...(reason ? { reason: expect.stringMatching(reason) } : {}),
      });
    const withBuffer = (buffer: unknown) => ({ ...handle, buffer }) as never;
    const copyOf = (bytes: number) => {
      const copy = new SharedArrayBuffer(bytes);
      const words = Math.min(bytes, handle.buffer.byteLength) / 4;
      new Int32Array(copy).set(new Int32Array(handle.buffer, 0, words));
      return copy;
    };

    expect(() => SharedChannel.from({ ...handle, layoutVersion: 99 } as never)).toThrowError(
      mismatch('handle.layoutVersion'),
    );
    expect(() => SharedChannel.from({ ...handle, kind: 'atomvisor.mutex' } as never)).toThrowError(
      mismatch('handle.kind'),
    );
    expect(() => SharedChannel.from(withBuffer(new SharedArrayBuffer(4096)))).toThrowError(
      mismatch('handle.buffer', /does not hold an atomvisor channel/),
    );
    expect(() => SharedChannel.from(withBuffer(new SharedArrayBuffer(16)))).toThrowError(
      mismatch('handle.buffer', /too small/),
    );
    const otherVersion = copyOf(handle.buffer.byteLength);
    new Int32Array(otherVersion)[L.VERSION] = 2;
    expect(() => SharedChannel.from(withBuffer(otherVersion))).toThrowError(
      mismatch('handle.buffer', /layout version 2/),
    );
    expect(() => SharedChannel.from(withBuffer(copyOf(L.SLOTS * 4 + 8)))).toThrowError(
      mismatch('handle.buffer', /smaller than its header/),
    );
    expect(() => SharedChannel.from(withBuffer(new ArrayBuffer(4096)))).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field: 'handle.buffer' }),
    );
    expect(() => SharedChannel.from(null as never)).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field: 'handle' }),
    );
    // The good handle, also structured-cloned, opens the same channel.
    const twin = SharedChannel.from(structuredClone(handle));
    expect([twin.capacity, twin.messageWords, twin.mode]).toEqual([4, 2, 'spsc']);
    expect(channel.trySend([1, 2])).toBe('sent');
    expect(drain(twin)).toEqual([[1, 2]]);
  });

  it('tryReceive / receiveAsync refuse an out that cannot hold a message, on every call', async () => {
    const channel = SharedChannel.create({ capacity: 4, messageWords: 4 });
    const badOut = expect.objectContaining({
      code: 'ERR_ATOMVISOR_INVALID_ARGUMENT',
      field: 'out',
    });
    channel.trySend([1, 2, 3, 4]);
    channel.trySend([5, 6, 7, 8]);
    channel.trySend([9, 10, 11, 12]);
    expect(() => channel.tryReceive(new Int32Array(3))).toThrowError(badOut);
    expect(() => channel.tryReceive(new Uint32Array(4) as never)).toThrowError(badOut);
    expect(() => channel.tryReceive([0, 0, 0, 0] as never)).toThrowError(badOut);
    expect(channel.tryReceive(new Int32Array(4))).toBe('received');
    // Once this object is the consumer, a short out must still be refused, not truncated.
    expect(() => channel.tryReceive(new Int32Array(2))).toThrowError(badOut);
    await expect(channel.receiveAsync(new Int32Array(2))).rejects.toEqual(badOut);
    expect(channel.size).toBe(2);
    const longer = new Int32Array(6).fill(-1);
    expect(channel.tryReceive(longer)).toBe('received');
    expect(Array.from(longer)).toEqual([5, 6, 7, 8, -1, -1]);
    expect(drain(channel)).toEqual([[9, 10, 11, 12]]);
  });

  it('rejects bad wait options', async () => {
    const channel = SharedChannel.create();
    const field = (name: string) => expect.objectContaining({ field: name });
    await expect(channel.receiveAsync(undefined, { timeoutMs: -1 })).rejects.toEqual(
      field('options.timeoutMs'),
    );
    await expect(channel.receiveAsync(undefined, { timeoutMs: Number.NaN })).rejects.toEqual(
      field('options.timeoutMs'),
    );
    await expect(channel.sendAsync([1], { signal: 'stop' as never })).rejects.toEqual(
      field('options.signal'),
    );
    expect(channel.size).toBe(0);
  });
});
