import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import { decodeChoices, decodeTrace, encodeChoices, encodeTrace } from '../../src/race/trace.ts';

describe('replay traces', () => {
  it('round-trips choices, with runs compressed', () => {
    const choices = [0, 1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 17, 0];
    const text = encodeChoices(choices);
    expect(text).toBe('01-5-02-h-h0');
    expect(Array.from(decodeChoices(text))).toEqual(choices);
    expect(Array.from(decodeChoices(''))).toEqual([]);
  });

  it('round-trips a whole trace, test names with any characters included', () => {
    const trace = {
      strategy: 'pct' as const,
      seed: 0xdeadbeef,
      test: 'mutex/exclusion [check-then-set]: "x" 100%',
      maxSteps: 20_000,
      spuriousPpm: 200_000,
      faults: { kill: { actor: 1, step: 37 }, delay: { actor: 0, until: 5 } },
      choices: Uint8Array.from([1, 1, 1, 1, 0, 3]),
    };
    const text = encodeTrace(trace);
    expect(text).toMatch(/^v1:pct:[0-9a-z]+:[^:]+:[^:]+:[0-9a-z-]*$/);
    expect(text).not.toMatch(/[\s'"*?[\]]/); // shell-safe without quotes
    expect(decodeTrace(text)).toEqual(trace);
  });

  it('refuses malformed traces with InvalidArgumentError naming the trace', () => {
    for (const bad of [
      '',
      'v2:pct:1:t:m1:0',
      'v1:nope:1:t:m1:0',
      'v1:pct:1:t:x1:0',
      'v1:pct:1:t:m1:0-5',
    ]) {
      try {
        decodeTrace(bad);
        expect.unreachable(bad);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe('trace');
      }
    }
  });
});
