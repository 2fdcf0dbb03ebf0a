/**
 * The one timeout rule (src/shm/validate.ts checkTimeout): every call that takes a timeout — shm
 * primitives, the slot table, the request tracker — accepts the same values and refuses the same
 * ones with the same reason, naming its own field.
 */
import { describe, expect, it } from 'vitest';
import { RequestTracker } from '../../src/io/request-tracker.ts';
import { Mutex } from '../../src/shm/mutex.ts';
import { checkTimeout, MAX_TIMER_MS, timeoutOr } from '../../src/shm/validate.ts';
import { SlotTable } from '../../src/table/slot-table.ts';

/** The InvalidArgumentError `call` throws or rejects with, as { field, reason }. */
async function refusal(call: () => unknown): Promise<{ field: string; reason: string }> {
  try {
    await call();
  } catch (error) {
    const { code, field, reason } = error as { code: string; field: string; reason: string };
    expect(code).toBe('ERR_ATOMVISOR_INVALID_ARGUMENT');
    return { field, reason };
  }
  throw new Error('accepted');
}

describe('checkTimeout', () => {
  it('takes 0..MAX_TIMER_MS as given, undefined and Infinity as no value', () => {
    expect(checkTimeout(undefined)).toBeUndefined();
    expect(checkTimeout(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(checkTimeout(0)).toBe(0);
    expect(checkTimeout(2.5)).toBe(2.5);
    expect(checkTimeout(MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
    // The longest wait a Node timer can do: one more overflows and fires after 1 ms.
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
  });

  it.each([
    [-1, /≥ 0/],
    [Number.NaN, /got NaN/],
    [Number.NEGATIVE_INFINITY, /≥ 0/],
    ['10', /got "10"/],
    [MAX_TIMER_MS + 1, /longer than a Node timer can wait.*use Infinity/],
  ])('refuses %s, naming the field', (value, reason) => {
    expect(() => checkTimeout(value, 'options.timeoutMs')).toThrowError(
      expect.objectContaining({
        field: 'options.timeoutMs',
        reason: expect.stringMatching(reason),
      }),
    );
  });

  it('is the rule of the mutex, the slot table and the request tracker alike', async () => {
    const write = () => {};
    for (const bad of [-1, Number.NaN, MAX_TIMER_MS + 1, 'soon']) {
      const expected = await refusal(() => checkTimeout(bad, 'X'));
      const mutex = await refusal(() => Mutex.create().lockAsync({ timeoutMs: bad as number }));
      const table = SlotTable.create(1);
      const lease = await refusal(() => table.leaseAnyAsync([0], { timeoutMs: bad as number }));
      const tracker = await refusal(() => new RequestTracker({ write, timeoutMs: bad as number }));
      const request = await refusal(() =>
        new RequestTracker({ write }).request('m', {}, { totalTimeoutMs: bad as number }),
      );
      expect(mutex).toEqual({ field: 'options.timeoutMs', reason: expected.reason });
      expect(lease).toEqual({ field: 'options.timeoutMs', reason: expected.reason });
      expect(tracker).toEqual({ field: 'timeoutMs', reason: expected.reason });
      expect(request).toEqual({ field: 'totalTimeoutMs', reason: expected.reason });
    }
  });
});

describe('timeoutOr', () => {
  it('gives the default for undefined, keeps Infinity as no limit, checks the rest alike', () => {
    expect(timeoutOr(undefined, 'f', 250)).toBe(250);
    expect(timeoutOr(Number.POSITIVE_INFINITY, 'f', 250)).toBe(Number.POSITIVE_INFINITY);
    expect(timeoutOr(0, 'f', 250)).toBe(0);
    expect(() => timeoutOr(-1, 'options.timeoutMs', 250)).toThrowError(
      expect.objectContaining({ field: 'options.timeoutMs', reason: expect.stringMatching(/≥ 0/) }),
    );
  });
});
