import { describe, expect, it } from 'vitest';
import { MAX_PARK_SLICE_MS, parkAsync } from '../../src/shm/park.ts';
import { now } from '../../src/shm/runtime.ts';

describe('parkAsync', () => {
  it('hands a wake-up consumed by an abandoned (aborted) waiter on to a live one', async () => {
    const view = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const abandoned = parkAsync(view, 0, 0, Number.POSITIVE_INFINITY, controller.signal);
    controller.abort(new Error('gone'));
    await expect(abandoned).rejects.toThrow('gone');

    // One notify for one waiter. V8 wakes the oldest waiter, the abandoned one; it must pass the
    // wake-up on, so the live waiter sees 'ok' and not the end of its slice ('timed-out').
    const live = parkAsync(view, 0, 0, now() + 10 * MAX_PARK_SLICE_MS);
    expect(Atomics.notify(view, 0, 1)).toBe(1);
    expect(await live).toBe('ok');
  });

  it("returns 'not-equal' at once when the word already changed, and times out at the deadline", async () => {
    const view = new Int32Array(new SharedArrayBuffer(4));
    expect(await parkAsync(view, 0, 1, Number.POSITIVE_INFINITY)).toBe('not-equal');
    expect(await parkAsync(view, 0, 0, now() + 5)).toBe('timed-out');
    expect(await parkAsync(view, 0, 0, now() - 1)).toBe('timed-out');
  });
});
