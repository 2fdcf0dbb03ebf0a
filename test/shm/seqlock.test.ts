import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Seqlock as SeqlockLayout } from '../../src/shm/layout.ts';
import { Seqlock } from '../../src/shm/seqlock.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { firstMessage, runWorkers, STRESS_THREADS, spawnWorker } from '../helpers/threads.ts';
import { type SeqlockLike, type SeqlockVariant, seqlockVariants } from '../planted/seqlocks.ts';
import type { PeerCommand, PeerReply } from './workers/seqlock-peer.worker.ts';

const STRESS_WORKER = new URL('./workers/seqlock-stress.worker.ts', import.meta.url);
const PEER_WORKER = new URL('./workers/seqlock-peer.worker.ts', import.meta.url);

const SEQ = SeqlockLayout.SEQ;
const PARKED = SeqlockLayout.PARKED;
const FIELDS = SeqlockLayout.FIELDS;

/** Stress shape: 2 writers + 2 readers = STRESS_THREADS workers, plus reads on the main thread. */
const STRESS_FIELDS = 8;
const STRESS_WRITERS = 2;
const STRESS_READERS = STRESS_THREADS - STRESS_WRITERS;
const WORKER_READS = 450_000;
const MAIN_READS = 100_000;
const TOTAL_READS = STRESS_READERS * WORKER_READS + MAIN_READS;
/** Start high, so the sequence overflows past 2^31 - 1 (and turns negative) during every run. */
const STRESS_START_SEQUENCE = 2 ** 31 - 2 * 1_000;

/** The lock's words as a plain view: lets a test play a writer that stalled or died mid-write. */
function rawView(lock: Seqlock): Int32Array {
  const h = lock.handle;
  return new Int32Array(h.buffer, h.byteOffset, Seqlock.words(h.fieldCount));
}

function sharedWord(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Resolve once `view[index]` is no longer `value` (polls in slices: arriveAndWait never notifies). */
async function whileWordIs(view: Int32Array, index: number, value: number): Promise<void> {
  for (;;) {
    const seen = Atomics.load(view, index);
    if (seen !== value) return;
    const result = Atomics.waitAsync(view, index, seen, 5);
    if (result.async) await result.value;
  }
}

/** Resolve once at least `parties` threads have arrived at `barrier` (main thread never blocks). */
async function allArrived(barrier: Int32Array, parties: number): Promise<void> {
  for (;;) {
    const arrived = Atomics.load(barrier, 0);
    if (arrived >= parties) return;
    await whileWordIs(barrier, 0, arrived);
  }
}

function isTorn(out: Int32Array): boolean {
  const first = out[0];
  for (let i = 1; i < out.length; i++) if (out[i] !== first) return true;
  return false;
}

interface StressOutcome {
  reads: number;
  violations: number;
  writes: number;
  /** Main-thread sync reads that hit the spin bound (ContentionError) and finished with readAsync. */
  mainFallbacks: number;
  sample?: number[];
  finalSequence: number;
  finalSnapshot: number[];
}

/** Main-thread share of the reads: sync read(), falling back to readAsync if it gives up. */
async function readOnMain(
  lock: SeqlockLike,
  reads: number,
  violations: Int32Array,
  stopAtFirst: boolean,
): Promise<{ reads: number; violations: number; fallbacks: number; sample?: number[] }> {
  const out = new Int32Array(lock.fieldCount);
  let done = 0;
  let torn = 0;
  let fallbacks = 0;
  let sample: number[] | undefined;
  while (done < reads) {
    try {
      lock.read(out);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_ATOMVISOR_CONTENTION') throw error;
      fallbacks++;
      await lock.readAsync(out, { timeoutMs: 30_000 });
    }
    done++;
    if (isTorn(out)) {
      torn++;
      sample ??= Array.from(out);
      Atomics.add(violations, 0, 1);
    }
    if (stopAtFirst && Atomics.load(violations, 0) > 0) break;
  }
  return { reads: done, violations: torn, fallbacks, sample };
}

/**
 * The invariant stress: STRESS_WRITERS writers store one value into all fields, over and over,
 * until the readers (workers and the main thread) have taken TOTAL_READS snapshots between them.
 * A snapshot whose fields differ is a violation. `variant` picks the lock every thread uses.
 */
async function stress(variant: SeqlockVariant, stopAtFirst: boolean): Promise<StressOutcome> {
  const lock = Seqlock.create(STRESS_FIELDS);
  Atomics.store(rawView(lock), SEQ, STRESS_START_SEQUENCE);
  const stop = sharedWord();
  const violations = sharedWord();
  const barrier = createBarrier();
  const parties = STRESS_WRITERS + STRESS_READERS;
  const base = {
    variant,
    handle: lock.handle,
    stop,
    violations,
    barrier,
    parties,
    reads: WORKER_READS,
    stopAtFirst,
  };
  const writers = runWorkers<{ writes: number }>(
    STRESS_WORKER,
    Array.from({ length: STRESS_WRITERS }, (_, id) => ({ ...base, role: 'writer', id })),
  );
  writers.catch(() => {}); // awaited below; do not report it as unhandled meanwhile
  let readers: { reads: number; violations: number; sample?: number[] }[];
  let main: Awaited<ReturnType<typeof readOnMain>>;
  try {
    const readersDone = runWorkers<{ reads: number; violations: number; sample?: number[] }>(
      STRESS_WORKER,
      Array.from({ length: STRESS_READERS }, (_, id) => ({ ...base, role: 'reader', id })),
    );
    readersDone.catch(() => {});
    // A worker that fails before the start line rejects its group: stop waiting for it then.
    await Promise.race([allArrived(barrier, parties), readersDone, writers]);
    main = await readOnMain(
      seqlockVariants[variant](lock.handle),
      MAIN_READS,
      violations,
      stopAtFirst,
    );
    readers = await readersDone;
  } finally {
    Atomics.store(stop, 0, 1);
  }
  const written = await writers;
  const all = [...readers, main];
  return {
    reads: all.reduce((n, r) => n + r.reads, 0),
    violations: all.reduce((n, r) => n + r.violations, 0),
    writes: written.reduce((n, w) => n + w.writes, 0),
    mainFallbacks: main.fallbacks,
    sample: all.find((r) => r.sample !== undefined)?.sample,
    finalSequence: lock.sequence,
    finalSnapshot: Array.from(lock.read()),
  };
}

/** Up to `rounds` stress runs that stop at the first violation; returns the rounds it took. */
async function roundsToCatch(variant: SeqlockVariant, rounds = 5): Promise<StressOutcome[]> {
  const runs: StressOutcome[] = [];
  for (let round = 0; round < rounds; round++) {
    const outcome = await stress(variant, true);
    runs.push(outcome);
    if (outcome.violations > 0) break;
  }
  return runs;
}

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

async function startPeer(
  lock: Seqlock,
  variant: SeqlockVariant = 'correct',
): Promise<{ worker: Worker; ask(command: PeerCommand): Promise<PeerReply> }> {
  const worker = spawnWorker(PEER_WORKER, { handle: lock.handle, variant });
  live.push(worker);
  await firstMessage<PeerReply>(worker);
  const ask = (command: PeerCommand) => {
    const reply = firstMessage<PeerReply>(worker);
    worker.postMessage(command);
    return reply;
  };
  return { worker, ask };
}

describe('Seqlock snapshots under concurrent writers (real threads)', () => {
  it(`never returns a torn snapshot: ${STRESS_WRITERS} writers, ${TOTAL_READS} reads on ${STRESS_READERS} workers + main`, async () => {
    const outcome = await stress('correct', false);
    expect(outcome.sample).toBeUndefined();
    expect(outcome.violations).toBe(0);
    expect(outcome.reads).toBe(TOTAL_READS);
    expect(outcome.writes).toBeGreaterThan(0);
    // Writers are serialised: every write, and nothing else, advanced the sequence by exactly 2
    // (counted modulo 2^32, as the sequence overflowed during the run).
    expect(outcome.finalSequence & 1).toBe(0);
    expect((outcome.finalSequence - STRESS_START_SEQUENCE) >>> 0).toBe(2 * outcome.writes);
    expect(outcome.finalSequence).toBeLessThan(0); // it did wrap past 2^31 - 1
    expect(new Set(outcome.finalSnapshot).size).toBe(1);
  });

  // The planted bugs tear a snapshot only when a read and a write overlap; a few rounds (each
  // stopping at the first violation) make that a near certainty without a timing assumption.
  it("catches the planted 'no-retry' reader (accepts a snapshot without re-checking the sequence)", async () => {
    const runs = await roundsToCatch('no-retry');
    const last = runs.at(-1)!;
    expect(last.violations, `no violation in ${runs.length} rounds`).toBeGreaterThan(0);
    expect(last.sample).toBeDefined();
  });

  it("catches the planted 'no-odd-phase' writer with the correct reader", async () => {
    const runs = await roundsToCatch('no-odd-phase');
    expect(runs.at(-1)!.violations, `no violation in ${runs.length} rounds`).toBeGreaterThan(0);
  });
});

describe('Seqlock sequence and writer exclusion (single thread)', () => {
  it('advances the sequence by 2 per write and keeps it even when idle', () => {
    const lock = Seqlock.create(4);
    expect(lock.sequence).toBe(0);
    expect(Array.from(lock.read())).toEqual([0, 0, 0, 0]);
    lock.write([1, 2, 3, 4]);
    expect(lock.sequence).toBe(2);
    expect(lock.tryWrite([5, 6], 2)).toBe(true);
    expect(lock.sequence).toBe(4);
    expect(Array.from(lock.read())).toEqual([1, 2, 5, 6]);
    expect(lock.readField(3)).toBe(6);
    const out: number[] = [];
    expect(lock.tryRead(out)).toBe(true);
    expect(out).toEqual([1, 2, 5, 6]);
    expect(lock.read([9, 9, 9, 9, 9])).toEqual([1, 2, 5, 6, 9]); // only fieldCount entries copied
    lock.write([undefined, 20, undefined], 1); // sparse: undefined keeps the field
    expect(lock.sequence).toBe(6);
    expect(Array.from(lock.read())).toEqual([1, 2, 20, 6]);
    expect(rawView(lock)[PARKED]).toBe(0);
  });

  it('refuses tryWrite and tryRead while another writer holds the odd phase', () => {
    const lock = Seqlock.create(3);
    lock.write([7, 7, 7]);
    const raw = rawView(lock);
    const s = lock.sequence;
    Atomics.store(raw, SEQ, s + 1); // another writer entered...
    Atomics.store(raw, FIELDS, 8); // ...and is halfway through
    expect(lock.tryWrite([1, 1, 1])).toBe(false);
    const out = new Int32Array(3);
    expect(lock.tryRead(out)).toBe(false);
    expect(lock.sequence).toBe(s + 1);
    expect(raw[FIELDS + 1]).toBe(7); // the refused tryWrite wrote nothing
    Atomics.store(raw, FIELDS + 1, 8);
    Atomics.store(raw, FIELDS + 2, 8);
    Atomics.store(raw, SEQ, s + 2); // ...and leaves
    expect(lock.tryRead(out)).toBe(true);
    expect(Array.from(out)).toEqual([8, 8, 8]);
    expect(lock.tryWrite([1, 1, 1])).toBe(true);
    expect(lock.sequence).toBe(s + 4);
  });

  it('treats every odd sequence as a write in progress, including -1 after wrapping', () => {
    const lock = Seqlock.create(2);
    const raw = rawView(lock);
    const out = new Int32Array(2);
    for (const odd of [-1, -(2 ** 31) + 1, 2 ** 31 - 1]) {
      Atomics.store(raw, SEQ, odd);
      expect(lock.tryRead(out), `sequence ${odd}`).toBe(false);
      expect(() => lock.read(out), `sequence ${odd}`).toThrowError(
        expect.objectContaining({ code: 'ERR_ATOMVISOR_CONTENTION' }),
      );
      expect(lock.tryWrite([1, 1]), `sequence ${odd}`).toBe(false);
    }
  });

  it('keeps working across the int32 overflow of the sequence', () => {
    const lock = Seqlock.create(2);
    const raw = rawView(lock);
    Atomics.store(raw, SEQ, 2 ** 31 - 2);
    lock.write([1, 1]);
    expect(lock.sequence).toBe(-(2 ** 31));
    expect(Array.from(lock.read())).toEqual([1, 1]);
    Atomics.store(raw, SEQ, -2);
    expect(lock.tryWrite([2, 2])).toBe(true);
    expect(lock.sequence).toBe(0);
    expect(Array.from(lock.read())).toEqual([2, 2]);
  });
});

describe('Seqlock readers stay bounded when a writer stalls', () => {
  it('a sync read on the main thread waits out a writer that holds the record for a few ms (lost its core)', async () => {
    const lock = Seqlock.create(3);
    lock.write([5, 5, 5]);
    const peer = await startPeer(lock);
    const gate = new Int32Array(new SharedArrayBuffer(8));
    // The worker enters the write (odd sequence), waits for the gate, then stays inside 8 ms.
    const written = peer.ask({ op: 'write', values: [6, 7, 8], gate, holdMs: 8 });
    while (Atomics.load(gate, 1) === 0) await new Promise((resolve) => setImmediate(resolve));
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    const started = performance.now();
    // Spinning on (never parking): 20 000 spins (~2 ms) used to throw ContentionError here.
    expect(Array.from(lock.read())).toEqual([6, 7, 8]);
    const waitedMs = performance.now() - started;
    expect(await written).toMatchObject({ written: true });
    expect(waitedMs).toBeGreaterThanOrEqual(4); // it really waited for the held record
    expect(lock.write([1, 2, 3])).toBeUndefined(); // and a main-thread write gets in after it
  });

  it('times out read() in a worker, gives up read() on the main thread, and times out readAsync', async () => {
    const lock = Seqlock.create(3);
    lock.write([5, 5, 5]);
    const raw = rawView(lock);
    const stuck = lock.sequence + 1;
    Atomics.store(raw, SEQ, stuck); // a writer died mid-write

    const peer = await startPeer(lock);
    const read = await peer.ask({ op: 'read', timeoutMs: 50 });
    expect(read).toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });
    expect(read.elapsedMs).toBeGreaterThanOrEqual(49); // it waited, then gave up (did not hang)
    const write = await peer.ask({ op: 'write', values: [1, 1, 1], timeoutMs: 50 });
    expect(write).toMatchObject({ code: 'ERR_ATOMVISOR_TIMEOUT' });

    expect(() => lock.read()).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_CONTENTION' }),
    );
    expect(() => lock.write([1, 1, 1])).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_CONTENTION' }),
    );
    await expect(lock.readAsync(undefined, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    await expect(lock.writeAsync([1, 1, 1], 0, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });

    expect(lock.sequence).toBe(stuck); // nobody got in
    expect(Array.from(raw.subarray(FIELDS))).toEqual([5, 5, 5]);
    expect(raw[PARKED]).toBe(0); // every parked thread left the count
  });

  it('resolves readAsync once the sequence is even again, even with no notify', async () => {
    const lock = Seqlock.create(3);
    lock.write([1, 1, 1]);
    const raw = rawView(lock);
    const s = lock.sequence;
    Atomics.store(raw, SEQ, s + 1);
    const snapshot = lock.readAsync(undefined, { timeoutMs: 20_000 });
    expect(raw[PARKED]).toBe(1); // spun, then parked before returning the promise
    setTimeout(() => {
      for (let i = 0; i < 3; i++) Atomics.store(raw, FIELDS + i, 7);
      Atomics.store(raw, SEQ, s + 2); // a writer that leaves without notifying
    }, 20);
    expect(Array.from(await snapshot)).toEqual([7, 7, 7]);
    expect(raw[PARKED]).toBe(0);
  });

  it('rejects readAsync with the signal reason while parked', async () => {
    const lock = Seqlock.create(1);
    const raw = rawView(lock);
    Atomics.store(raw, SEQ, 1);
    const controller = new AbortController();
    const snapshot = lock.readAsync(undefined, { signal: controller.signal });
    const reason = new Error('caller went away');
    setTimeout(() => controller.abort(reason), 20);
    await expect(snapshot).rejects.toBe(reason);
    expect(raw[PARKED]).toBe(0);
    await expect(lock.readAsync(undefined, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
  });

  for (const variant of ['correct', 'no-notify'] as const) {
    it(`wakes parked readers when a stalled writer finishes (${variant} writer)`, async () => {
      const lock = Seqlock.create(4);
      const raw = rawView(lock);
      const writer = await startPeer(lock, variant);
      const reader = await startPeer(lock);
      const gate = new Int32Array(new SharedArrayBuffer(8));
      const written = writer.ask({ op: 'write', values: [1, 2, 3, 4], gate });
      await whileWordIs(gate, 1, 0); // the writer has entered and is stalled mid-write
      const s = lock.sequence;
      expect(s & 1).toBe(1);
      expect(lock.tryRead(new Int32Array(4))).toBe(false);

      const workerRead = reader.ask({ op: 'read', timeoutMs: 20_000 });
      const mainRead = lock.readAsync(undefined, { timeoutMs: 20_000 });
      // An observer parked on SEQ and counted in PARKED, as a reader is; nothing but the
      // writer's notify can wake it before its own time limit.
      Atomics.add(raw, PARKED, 1);
      const observer = Atomics.waitAsync(raw, SEQ, s, variant === 'correct' ? 20_000 : 300);
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      const woken = observer.async ? await observer.value : observer.value;
      Atomics.sub(raw, PARKED, 1);

      expect(await written).toMatchObject({ written: true });
      expect(Array.from(await mainRead)).toEqual([1, 2, 3, 4]);
      expect((await workerRead).values).toEqual([1, 2, 3, 4]);
      expect(lock.sequence).toBe(s + 1);
      expect(woken).toBe(variant === 'correct' ? 'ok' : 'timed-out');
    });
  }
});

describe('Seqlock writer-death recovery', () => {
  it('closes the write of a writer thread that died mid-write: parked readers wake, writes get in again', async () => {
    const lock = Seqlock.create(3);
    lock.write([5, 5, 5]);
    const before = lock.sequence;
    expect(lock.recoverFromDeadWriter()).toBe(false); // idle: nothing to recover
    expect(lock.sequence).toBe(before);

    const writer = await startPeer(lock);
    const gate = new Int32Array(new SharedArrayBuffer(8));
    // It stores field 0, then stalls reading value 1: a write frozen halfway, for real.
    const never = writer.ask({ op: 'write', values: [6, 7, 8], gate, stallAt: 1 });
    await whileWordIs(gate, 1, 0);
    const exited = new Promise((resolve) => writer.worker.once('exit', resolve));
    await writer.worker.terminate(); // the writer dies inside its write
    await exited;
    await expect(never).rejects.toThrow(/exited/); // it never answered
    expect(lock.sequence).toBe(before + 1); // left odd for good
    expect(() => lock.read()).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_CONTENTION' }),
    );

    const reader = await startPeer(lock);
    const parkedRead = reader.ask({ op: 'read', timeoutMs: 20_000 });
    const raw = rawView(lock);
    while (Atomics.load(raw, PARKED) === 0) await new Promise((resolve) => setTimeout(resolve, 1));

    expect(lock.recoverFromDeadWriter()).toBe(true);
    expect(lock.recoverFromDeadWriter()).toBe(false); // once
    expect(lock.sequence).toBe(before + 2);
    // The parked reader woke at once (not at its 20 s limit) and got the record as the dead
    // writer left it: field 0 new, the rest old. Whole words, a mixed record: the caller rewrites.
    const woke = await parkedRead;
    expect(woke.values).toEqual([6, 5, 5]);
    expect(woke.elapsedMs).toBeLessThan(10_000);
    lock.write([1, 2, 3]);
    expect(Array.from(lock.read())).toEqual([1, 2, 3]);
    expect(lock.sequence).toBe(before + 4);
  });
});

describe('Seqlock bad input and handles', () => {
  it('names the field and the reason', () => {
    const shared = new Int32Array(new SharedArrayBuffer(8 * 4));
    const field = (name: string) => expect.objectContaining({ field: name });
    expect(() => new Seqlock(new Int32Array(8), 0, 2)).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field: 'view' }),
    );
    expect(
      () => new Seqlock(new Float64Array(new SharedArrayBuffer(64)) as never, 0, 2),
    ).toThrowError(
      expect.objectContaining({ field: 'view', reason: expect.stringContaining('Float64Array') }),
    );
    expect(() => new Seqlock(shared, 0, 0)).toThrowError(field('fieldCount'));
    expect(() => new Seqlock(shared, 0, 1025)).toThrowError(field('fieldCount'));
    expect(() => new Seqlock(shared, 0, 1.5)).toThrowError(field('fieldCount'));
    expect(() => Seqlock.create(0)).toThrowError(field('fieldCount'));
    expect(() => Seqlock.create(1025)).toThrowError(field('fieldCount'));
    expect(Seqlock.create(1024).fieldCount).toBe(1024);
    expect(() => new Seqlock(shared, 7, 2)).toThrowError(field('wordIndex'));
    expect(() => new Seqlock(shared, -1, 2)).toThrowError(field('wordIndex'));
    expect(() => new Seqlock(shared, 0.5, 2)).toThrowError(field('wordIndex'));
    expect(() => new Seqlock(shared, 0, 7)).toThrowError(field('wordIndex'));
    expect(new Seqlock(shared, 4, 2).fieldCount).toBe(2); // exactly fits

    const lock = Seqlock.create(4);
    expect(() => lock.write([1, 2, 3, 4, 5])).toThrowError(field('field'));
    expect(() => lock.write([1], 4)).toThrowError(field('field'));
    expect(() => lock.write([1, 2], 3)).toThrowError(field('field'));
    expect(() => lock.write([1], -1)).toThrowError(field('field'));
    expect(() => lock.write([1], 0.5)).toThrowError(field('field'));
    expect(() => lock.tryWrite([1, 2, 3, 4, 5])).toThrowError(field('field'));
    expect(() => lock.readField(4)).toThrowError(field('field'));
    expect(() => lock.readField(-1)).toThrowError(field('field'));
    // A typed array too short for the snapshot would silently drop fields: refused.
    expect(() => lock.read(new Int32Array(3))).toThrowError(field('out'));
    expect(() => lock.tryRead(new Int32Array(2))).toThrowError(field('out'));
    expect(() => lock.read(new Float64Array(4) as never)).toThrowError(field('out'));
    expect(lock.read([])).toEqual([0, 0, 0, 0]);
    expect(lock.sequence).toBe(0); // no refused write entered
  });

  it('rejects bad async options and bad async writes', async () => {
    const lock = Seqlock.create(2);
    await expect(lock.readAsync(undefined, { timeoutMs: -1 })).rejects.toMatchObject({
      field: 'options.timeoutMs',
    });
    await expect(lock.readAsync(undefined, { signal: 'stop' as never })).rejects.toMatchObject({
      field: 'options.signal',
    });
    await expect(lock.writeAsync([1, 2, 3])).rejects.toMatchObject({ field: 'field' });
    await lock.writeAsync([3, 4]);
    expect(Array.from(await lock.readAsync())).toEqual([3, 4]);
  });

  it('refuses handles from another layout version, kind, alignment or size', () => {
    const handle = Seqlock.create(3).handle;
    expect(() => Seqlock.from({ ...handle, layoutVersion: 99 })).toThrowError(
      expect.objectContaining({
        code: 'ERR_ATOMVISOR_LAYOUT_MISMATCH',
        field: 'handle.layoutVersion',
      }),
    );
    expect(() => Seqlock.from({ ...handle, kind: 'atomvisor.mutex' } as never)).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_LAYOUT_MISMATCH', field: 'handle.kind' }),
    );
    expect(() => Seqlock.from({ ...handle, byteOffset: 2 })).toThrowError(
      expect.objectContaining({
        field: 'handle.byteOffset',
        reason: expect.stringContaining('aligned'),
      }),
    );
    expect(() => Seqlock.from({ ...handle, byteOffset: 4 })).toThrowError(
      expect.objectContaining({ field: 'handle.byteOffset' }),
    );
    expect(() => Seqlock.from({ ...handle, fieldCount: 4 })).toThrowError(
      expect.objectContaining({ field: 'handle.byteOffset' }),
    );
    expect(() => Seqlock.from({ ...handle, fieldCount: 0 })).toThrowError(
      expect.objectContaining({ field: 'handle.fieldCount' }),
    );
    expect(() => Seqlock.from({ ...handle, buffer: new ArrayBuffer(20) as never })).toThrowError(
      expect.objectContaining({ field: 'handle.buffer' }),
    );
    expect(() => Seqlock.from(null as never)).toThrowError(
      expect.objectContaining({ field: 'handle' }),
    );
  });

  it('places a Seqlock inside a caller buffer and shares it by handle, across threads too', async () => {
    const view = new Int32Array(new SharedArrayBuffer(16 * 4));
    const lock = new Seqlock(view, 5, 3);
    expect(lock.handle.byteOffset).toBe(5 * 4);
    lock.write([10, 20, 30]);

    const clone = Seqlock.from(structuredClone(lock.handle));
    expect(Array.from(clone.read())).toEqual([10, 20, 30]);
    clone.write([40], 1);
    expect(Array.from(lock.read())).toEqual([10, 40, 30]);

    const peer = await startPeer(lock);
    expect((await peer.ask({ op: 'read' })).values).toEqual([10, 40, 30]);
    expect(await peer.ask({ op: 'write', values: [4, 5, 6] })).toMatchObject({ written: true });
    expect(Array.from(lock.read())).toEqual([4, 5, 6]);
    expect(lock.sequence).toBe(6);
    // Only the Seqlock's own words (5 .. 9) were touched.
    expect(Array.from(view)).toEqual([0, 0, 0, 0, 0, 6, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0]);
  });
});
