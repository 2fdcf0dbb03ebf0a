import { afterEach, describe, expect, it, vi } from 'vitest';
import { compareAndSet, defineStateWord, update } from '../../src/shm/state-word.ts';
import { createBarrier } from '../helpers/barrier.ts';
import { runWorkers, STRESS_THREADS } from '../helpers/threads.ts';
import type { StateWordVariant } from '../planted/state-words.ts';

const UPDATE_WORKER = new URL('./workers/state-word-update.worker.ts', import.meta.url);

const WIDTHS = { status: 4, generation: 20, flags: 8 } as const;
/** For the contention test: the 8-bit field at the top (bits 24..31) is a second counter. */
const COUNTER_WIDTHS = { status: 4, generation: 20, counter: 8 } as const;
const ITERATIONS = 100_000;
/** All updates together stay below 2^20, so generation never wraps; counter is checked mod 2^8. */
const TOTAL_UPDATES = STRESS_THREADS * ITERATIONS;

function sharedWords(words: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(words * 4));
}

const invalid = (field: string) =>
  expect.objectContaining({ code: 'ERR_ATOMVISOR_INVALID_ARGUMENT', field });

describe('defineStateWord layouts', () => {
  const layout = defineStateWord(WIDTHS);

  it('lays fields out from bit 0 up and round-trips pack / unpack / get / with', () => {
    expect(layout.bits).toBe(32);
    expect(layout.fields.status).toEqual({ shift: 0, width: 4, max: 15 });
    expect(layout.fields.generation).toEqual({ shift: 4, width: 20, max: 2 ** 20 - 1 });
    expect(layout.fields.flags).toEqual({ shift: 24, width: 8, max: 255 });

    const word = layout.pack({ status: 3, generation: 0xabcde, flags: 0x5a });
    expect(word).toBe((0x5a << 24) | (0xabcde << 4) | 3);
    expect(layout.unpack(word)).toEqual({ status: 3, generation: 0xabcde, flags: 0x5a });
    expect(layout.pack({ generation: 1 })).toBe(16); // missing fields are 0

    // The top bit belongs to flags: the Int32 word is negative, the field comes back unsigned.
    const full = layout.pack({ status: 15, generation: 2 ** 20 - 1, flags: 255 });
    expect(full).toBe(-1);
    expect(layout.unpack(full)).toEqual({ status: 15, generation: 2 ** 20 - 1, flags: 255 });
    const top = layout.with(0, 'flags', 0x80);
    expect(top).toBeLessThan(0);
    expect(layout.get(top, 'flags')).toBe(0x80);
    expect(layout.get(top, 'generation')).toBe(0);

    // with() replaces one field and leaves the others alone, in both directions.
    expect(layout.unpack(layout.with(full, 'generation', 0))).toEqual({
      status: 15,
      generation: 0,
      flags: 255,
    });
    expect(layout.unpack(layout.with(full, 'flags', 1))).toEqual({
      status: 15,
      generation: 2 ** 20 - 1,
      flags: 1,
    });
    expect(layout.with(layout.with(word, 'status', 9), 'status', 3)).toBe(word);
  });

  it('round-trips pseudo-random values in every field', () => {
    let seed = 0x2545f491;
    const next = (max: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) | 0;
      return (seed >>> 0) % (max + 1);
    };
    const mismatches: unknown[] = [];
    for (let i = 0; i < 10_000; i++) {
      const values = { status: next(15), generation: next(2 ** 20 - 1), flags: next(255) };
      const word = layout.pack(values);
      const back = layout.unpack(word);
      const ok =
        (word | 0) === word && // always an Int32
        back.status === values.status &&
        back.generation === values.generation &&
        back.flags === values.flags &&
        layout.get(layout.with(word, 'generation', 0), 'flags') === values.flags;
      if (!ok) mismatches.push({ values, word, back });
    }
    expect(mismatches).toEqual([]);
  });

  it('handles a single 32-bit field', () => {
    const whole = defineStateWord({ all: 32 });
    expect(whole.with(0, 'all', 0xffffffff)).toBe(-1);
    expect(whole.get(-1, 'all')).toBe(0xffffffff);
    expect(whole.unpack(-2)).toEqual({ all: 0xfffffffe });
    expect(() => whole.with(0, 'all', 2 ** 32)).toThrowError(invalid('all'));
  });

  it('refuses a value that does not fit, naming the field', () => {
    expect(() => layout.with(0, 'generation', 2 ** 20)).toThrowError(
      expect.objectContaining({ field: 'generation', reason: expect.stringContaining('20 bits') }),
    );
    expect(() => layout.with(0, 'status', 16)).toThrowError(invalid('status'));
    expect(() => layout.with(0, 'flags', -1)).toThrowError(invalid('flags'));
    expect(() => layout.with(0, 'flags', 1.5)).toThrowError(invalid('flags'));
    expect(() => layout.pack({ status: 1, flags: 256 })).toThrowError(invalid('flags'));
  });

  it('refuses bad widths, naming the offending field', () => {
    expect(() => defineStateWord({ a: 16, b: 16, c: 1 })).toThrowError(
      expect.objectContaining({ field: 'widths.c', reason: expect.stringContaining('33 bits') }),
    );
    expect(() => defineStateWord({ a: 8, b: 25 })).toThrowError(invalid('widths.b'));
    expect(() => defineStateWord({ a: 0 })).toThrowError(invalid('widths.a'));
    expect(() => defineStateWord({ a: 33 })).toThrowError(invalid('widths.a'));
    expect(() => defineStateWord({ a: 2.5 })).toThrowError(invalid('widths.a'));
    expect(() => defineStateWord({ a: '4' as never })).toThrowError(invalid('widths.a'));
    expect(() => defineStateWord({})).toThrowError(invalid('widths'));
    expect(() => defineStateWord(null as never)).toThrowError(invalid('widths'));
  });

  it('refuses an unknown field name in get, with and pack, even one Object.prototype has', () => {
    for (const name of ['nope', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(() => layout.with(0, name as never, 1), name).toThrowError(invalid('name'));
      expect(() => layout.get(0, name as never), name).toThrowError(invalid('name'));
    }
    expect(() => layout.pack({ nope: 1 } as never)).toThrowError(invalid('name'));
  });
});

/** TOTAL_UPDATES increments spread over STRESS_THREADS workers, through the variant's update. */
async function incrementUnder(variant: StateWordVariant) {
  const view = sharedWords(32);
  const index = 16;
  const barrier = createBarrier();
  const data = {
    variant,
    word: view,
    index,
    widths: COUNTER_WIDTHS,
    barrier,
    parties: STRESS_THREADS,
    iterations: ITERATIONS,
  };
  const results = await runWorkers<{ updates: number; calls: number; torn: number }>(
    UPDATE_WORKER,
    Array.from({ length: STRESS_THREADS }, (_, id) => ({ ...data, id })),
  );
  const layout = defineStateWord(COUNTER_WIDTHS);
  const others = Array.from(view).filter((_, i) => i !== index);
  return {
    final: layout.unpack(view[index] as number),
    torn: results.reduce((n, r) => n + r.torn, 0),
    retries: results.reduce((n, r) => n + r.calls - r.updates, 0),
    othersTouched: others.some((w) => w !== 0),
  };
}

describe('update() under contention (real threads)', () => {
  it(`keeps ${STRESS_THREADS} threads × ${ITERATIONS} two-field updates of one word exact`, async () => {
    const { final, torn, othersTouched } = await incrementUnder('correct');
    expect(final.generation).toBe(TOTAL_UPDATES);
    expect(final.counter).toBe(TOTAL_UPDATES % 256);
    expect(final.status).toBeLessThan(STRESS_THREADS); // the id of whichever thread was last
    expect(torn).toBe(0);
    expect(othersTouched).toBe(false);
  });

  it("catches the planted 'lost-update' (load → fn → store, no CAS)", async () => {
    // Updates are lost only when two threads collide between one's load and its store; a few
    // rounds make that a near certainty without a timing assumption.
    let lost = 0;
    let rounds = 0;
    while (rounds < 5 && lost === 0) {
      rounds++;
      const { final } = await incrementUnder('lost-update');
      lost = TOTAL_UPDATES - final.generation;
    }
    expect(lost, `no lost update in ${rounds} rounds`).toBeGreaterThan(0);
  });
});

describe('update() and compareAndSet() semantics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('installs fn(current) and returns the value it replaced', () => {
    const view = sharedWords(4);
    view[2] = 5;
    expect(update(view, 2, (w) => w + 1)).toBe(5);
    expect(view[2]).toBe(6);
    const layout = defineStateWord(WIDTHS);
    expect(update(view, 2, (w) => layout.with(w, 'flags', 0xff))).toBe(6);
    expect(layout.unpack(view[2] as number)).toEqual({ status: 6, generation: 0, flags: 0xff });
    expect(Array.from(view)).toEqual([0, 0, view[2], 0]);
  });

  it('writes nothing when fn returns the current value, or throws', () => {
    const view = sharedWords(1);
    view[0] = 42;
    const cas = vi.spyOn(Atomics, 'compareExchange');
    const same = vi.fn((w: number) => w);
    expect(update(view, 0, same)).toBe(42);
    expect(same).toHaveBeenCalledTimes(1);
    expect(cas).not.toHaveBeenCalled();

    const refusal = new Error('not in this state');
    expect(() =>
      update(view, 0, () => {
        throw refusal;
      }),
    ).toThrow(refusal);
    expect(cas).not.toHaveBeenCalled();
    expect(view[0]).toBe(42);

    update(view, 0, (w) => w + 1);
    expect(cas).toHaveBeenCalledTimes(1);
    expect(view[0]).toBe(43);
  });

  it('gives up with ContentionError after maxAttempts failed CAS attempts', () => {
    const view = sharedWords(1);
    // fn itself changes the word before returning, so every CAS prepared from its input fails.
    const meddling = vi.fn((w: number) => {
      Atomics.add(view, 0, 1);
      return w + 100;
    });
    expect(() => update(view, 0, meddling, { maxAttempts: 3 })).toThrowError(
      expect.objectContaining({ code: 'ERR_ATOMVISOR_CONTENTION' }),
    );
    expect(meddling).toHaveBeenCalledTimes(3);
    expect(view[0]).toBe(3); // only fn's own increments landed, never a result of fn

    // A word that stops changing lets the update land within its attempts.
    let meddle = 2;
    const settling = (w: number) => {
      if (meddle-- > 0) Atomics.add(view, 0, 1);
      return w + 100;
    };
    expect(update(view, 0, settling, { maxAttempts: 3 })).toBe(5);
    expect(view[0]).toBe(105);
    expect(update(view, 0, (w) => w + 1, { maxAttempts: 1 })).toBe(105);
  });

  it('compareAndSet installs only over the expected word and says whether it did', () => {
    const view = sharedWords(2);
    view[1] = 7;
    expect(compareAndSet(view, 1, 6, 9)).toBe(false);
    expect(view[1]).toBe(7);
    expect(compareAndSet(view, 1, 7, 9)).toBe(true);
    expect(view[1]).toBe(9);
    expect(compareAndSet(view, 1, 9, 9)).toBe(true);
    expect(view[0]).toBe(0);

    // Words with the top bit set: the same word written as an Int32 or as its unsigned value.
    const layout = defineStateWord(WIDTHS);
    const word = layout.pack({ flags: 0x80, status: 1 });
    view[1] = word;
    expect(compareAndSet(view, 1, word >>> 0, layout.with(word, 'status', 2))).toBe(true);
    expect(layout.unpack(view[1] as number)).toEqual({ status: 2, generation: 0, flags: 0x80 });
    expect(compareAndSet(view, 1, word >>> 0, 0)).toBe(false);
    expect(layout.get(view[1] as number, 'status')).toBe(2);
  });

  it('names the field on bad input', () => {
    const shared = sharedWords(2);
    const inc = (w: number) => w + 1;
    expect(() => update(new Int32Array(2), 0, inc)).toThrowError(invalid('view'));
    expect(() => update(new Uint32Array(shared.buffer) as never, 0, inc)).toThrowError(
      invalid('view'),
    );
    expect(() => update(shared, 2, inc)).toThrowError(invalid('index'));
    expect(() => update(shared, -1, inc)).toThrowError(invalid('index'));
    expect(() => update(shared, 0.5, inc)).toThrowError(invalid('index'));
    expect(() => update(shared, 0, inc, { maxAttempts: 0 })).toThrowError(
      invalid('options.maxAttempts'),
    );
    expect(() => update(shared, 0, inc, { maxAttempts: 1.5 })).toThrowError(
      invalid('options.maxAttempts'),
    );
    expect(() => compareAndSet(new Int32Array(2), 0, 0, 1)).toThrowError(invalid('view'));
    expect(() => compareAndSet(shared, 2, 0, 1)).toThrowError(invalid('index'));
    expect(Array.from(shared)).toEqual([0, 0]);
  });
});
