import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { SlotTable } from '../../src/table/slot-table.ts';
import { Flag, isLegalTransition, STATUS_NAMES, Status } from '../../src/table/state.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { firstMessage, runWorkers, STRESS_THREADS, spawnWorker } from '../helpers/threads.ts';
import type { LeaseVariant } from '../planted/tables.ts';

const LEASE_WORKER = new URL('./workers/lease-cycles.worker.ts', import.meta.url);
const SNAPSHOT_WORKER = new URL('./workers/snapshot.worker.ts', import.meta.url);

/** A table whose first `n` slots hold ready connections. */
function readyTable(n: number, capacity = n): SlotTable {
  const table = SlotTable.create(capacity);
  for (let i = 0; i < n; i++) {
    const claimed = table.claim();
    expect(claimed?.slot).toBe(i);
    expect(table.transition(i, 'ready', { from: 'starting' })).toBe(true);
  }
  return table;
}

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

describe('state machine', () => {
  it('allows exactly the documented moves', () => {
    const allowed = STATUS_NAMES.flatMap((from) =>
      STATUS_NAMES.filter((to) => isLegalTransition(Status[from], Status[to])).map(
        (to) => `${from}→${to}`,
      ),
    );
    expect(allowed.sort()).toEqual(
      [
        'empty→starting',
        'starting→ready',
        'starting→closing',
        'starting→exited',
        'ready→leased',
        'ready→draining',
        'ready→closing',
        'ready→exited',
        'leased→ready',
        'leased→draining',
        'leased→closing',
        'leased→exited',
        'draining→closing',
        'draining→exited',
        'closing→exited',
        'exited→starting',
        'exited→empty',
        'exited→failed',
        'failed→starting',
        'failed→empty',
      ].sort(),
    );
  });

  it('refuses an illegal move with a typed error and leaves the word alone', () => {
    const table = readyTable(1);
    const before = table.word(0);
    expect(() => table.transition(0, 'starting')).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_ILLEGAL_TRANSITION' }),
    );
    expect(table.word(0)).toBe(before);
  });

  it('bumps the generation on every start, so a stale CAS fails', () => {
    const table = readyTable(1);
    const first = table.state(0).generation;
    expect(table.setFlags(0, first, Flag.unready)).toBe(true);
    expect(table.transition(0, 'exited', { from: ['ready', 'leased'] })).toBe(true);
    expect(table.transition(0, 'starting', { generation: first })).toBe(true);
    const second = table.state(0);
    expect(second).toEqual({ status: 'starting', generation: first + 1, flags: 0 });
    // Anything prepared against the old process now fails.
    expect(table.transition(0, 'ready', { generation: first })).toBe(false);
    expect(table.setFlags(0, first, Flag.unready)).toBe(false);
    expect(table.transition(0, 'ready', { from: 'leased' })).toBe(false);
    expect(table.transition(0, 'ready', { generation: first + 1 })).toBe(true);
    expect(table.tryLease(0, first)).toBe(0);
    expect(table.tryLease(0, first + 1)).not.toBe(0);
  });

  it('claims empty slots until the table is full', () => {
    const table = SlotTable.create(2);
    expect(table.claim()).toEqual({ slot: 0, generation: 1 });
    expect(table.claim()).toEqual({ slot: 1, generation: 1 });
    expect(table.claim()).toBeUndefined();
  });
});

describe('fields and snapshots', () => {
  it('publishes sparse field updates atomically and reads them back', () => {
    const table = readyTable(1, 4);
    expect(table.fields(0).exit).toBe(-1);
    table.publish(0, { pid: 4242, startedAt: table.now(), restarts: 2 });
    table.publish(0, { restarts: 3 });
    const snap = table.snapshot(0);
    expect(snap).toMatchObject({
      slot: 0,
      status: 'ready',
      pid: 4242,
      restarts: 3,
      exit: -1,
      leaseId: 0,
      leaseAgeMs: -1,
    });
    expect(snap.startedAt).toBeLessThanOrEqual(table.now());
  });

  it('is readable from another thread through the handle', async () => {
    const table = readyTable(2);
    table.publish(1, { pid: 777, restarts: 5 });
    const leaseId = table.tryLease(1);
    const worker = spawnWorker(SNAPSHOT_WORKER, { handle: table.handle, slot: 1 });
    live.push(worker);
    const snap = await firstMessage<Record<string, unknown>>(worker);
    expect(snap).toMatchObject({ status: 'leased', pid: 777, restarts: 5, leaseId });
  });
});

describe('leases', () => {
  it('refuses a double release and reports an eviction to the late holder', () => {
    const table = readyTable(2);
    const a = table.tryLease(0);
    expect(a).toBeGreaterThan(0);
    expect(table.tryLease(0)).toBe(0);
    expect(table.release(0, a)).toBe('ready');
    expect(() => table.release(0, a)).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_NOT_LEASE_HOLDER' }),
    );

    const b = table.tryLease(1);
    const generation = table.state(1).generation;
    expect(table.evict(1, generation)).toBe(true);
    expect(table.state(1).status).toBe('closing');
    expect(() => table.release(1, b)).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_NOT_LEASE_HOLDER' }),
    );
  });

  it('a holder whose lease was evicted mid-release learns it', () => {
    const table = readyTable(1);
    const id = table.tryLease(0);
    // Evict between the holder's two steps: LEASE still names it, status is no longer leased.
    expect(table.transition(0, 'closing', { from: 'leased' })).toBe(true);
    expect(table.release(0, id)).toBe('evicted');
  });

  it('retires on release when flagged, and never leases an unready connection', () => {
    const table = readyTable(2);
    const id = table.tryLease(0);
    expect(table.setFlags(0, table.state(0).generation, Flag.retireOnRelease)).toBe(true);
    expect(table.release(0, id)).toBe('draining');
    expect(table.setFlags(1, table.state(1).generation, Flag.unready)).toBe(true);
    expect(table.tryLease(1)).toBe(0);
    expect(table.setFlags(1, table.state(1).generation, 0, Flag.unready)).toBe(true);
    expect(table.tryLease(1)).not.toBe(0);
  });

  it('reports the lease age and id in snapshots', () => {
    const table = readyTable(1);
    const id = table.tryLease(0);
    const snap = table.snapshot(0);
    expect(snap.leaseId).toBe(id);
    expect(snap.leaseAgeMs).toBeGreaterThanOrEqual(0);
  });

  it('times out or aborts leaseAnyAsync with typed errors when nothing frees up', async () => {
    const table = readyTable(1);
    table.tryLease(0);
    await expect(table.leaseAnyAsync([0], { timeoutMs: 20 })).rejects.toMatchObject({
      code: 'ERR_ATOMVISOR_TIMEOUT',
    });
    const reason = new Error('stop');
    await expect(table.leaseAnyAsync([0], { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
  });

  it('wakes a main-thread waiter when a slot becomes ready', async () => {
    const table = readyTable(1);
    const id = table.tryLease(0);
    const waiting = table.leaseAnyAsync([0], { timeoutMs: 20_000 });
    setTimeout(() => table.release(0, id), 5);
    const got = await waiting;
    expect(got.slot).toBe(0);
    expect(got.leaseId).not.toBe(id);
  });

  async function cycle(
    variant: LeaseVariant,
  ): Promise<{ doubles: number; released: number; main: number }> {
    const slots = [0, 1, 2, 3, 4, 5, 6, 7];
    const table = readyTable(slots.length);
    const holders = new Int32Array(new SharedArrayBuffer(4 * slots.length));
    const barrier = createBarrier();
    const cycles = 25_000;
    const data = {
      handle: table.handle,
      variant,
      holders,
      slots,
      cycles,
      barrier,
      parties: STRESS_THREADS,
    };
    const workers = runWorkers<{ doubles: number; released: number }>(
      LEASE_WORKER,
      Array.from({ length: STRESS_THREADS }, () => data),
    );
    // The main thread leases through the async path at the same time.
    let mainDoubles = 0;
    let mainCycles = 0;
    let done = false;
    void workers.finally(() => {
      done = true;
    });
    while (!done && mainCycles < 5_000) {
      const { slot, leaseId } = await table.leaseAnyAsync(slots, { timeoutMs: 30_000 });
      if (holders[slot] !== 0) mainDoubles++;
      holders[slot] = -1;
      await new Promise((resolve) => setImmediate(resolve));
      if (holders[slot] !== -1) mainDoubles++;
      holders[slot] = 0;
      try {
        table.release(slot, leaseId);
      } catch {
        mainDoubles++;
      }
      mainCycles++;
    }
    const results = await workers;
    for (const slot of slots) {
      if (variant === 'correct')
        expect(table.snapshot(slot)).toMatchObject({ status: 'ready', leaseId: 0 });
    }
    return {
      doubles: results.reduce((n, r) => n + r.doubles, mainDoubles),
      released: results.reduce((n, r) => n + r.released, 0),
      main: mainCycles,
    };
  }

  it(`never double-leases: ${STRESS_THREADS} workers + main, ≥ 10^5 cycles over 8 slots`, async () => {
    const { doubles, released, main } = await cycle('correct');
    expect(doubles).toBe(0);
    expect(released).toBe(STRESS_THREADS * 25_000);
    expect(released + main).toBeGreaterThanOrEqual(100_000);
  });

  it('catches the planted check-then-set lease (double leases)', async () => {
    let doubles = 0;
    for (let round = 0; round < 5 && doubles === 0; round++)
      doubles = (await cycle('check-then-set')).doubles;
    expect(doubles).toBeGreaterThan(0);
  });
});

describe('bad input', () => {
  it('names the field and the reason', () => {
    expect(() => SlotTable.create(0)).toThrowError(expect.objectContaining({ field: 'capacity' }));
    const table = SlotTable.create(2);
    expect(() => table.snapshot(2)).toThrowError(expect.objectContaining({ field: 'slot' }));
    expect(() => table.state(-1)).toThrowError(expect.objectContaining({ field: 'slot' }));
    expect(() => table.transition(0, 'bogus' as never)).toThrowError(
      expect.objectContaining({ field: 'to' }),
    );
    expect(() => SlotTable.from({ ...table.handle, layoutVersion: 2 })).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_LAYOUT_MISMATCH' }),
    );
    expect(() =>
      SlotTable.from({ ...table.handle, buffer: new SharedArrayBuffer(256) }),
    ).toThrowError(expect.objectContaining({ code: 'ERR_ATOMVISOR_LAYOUT_MISMATCH' }));
  });
});
